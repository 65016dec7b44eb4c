"""The web app: the JSON API and widget (:mod:`.api`) plus the Gradio interface (:mod:`.ui`) in one server.

``create_app(settings, assistant)`` returns a FastAPI app; ``app.py`` runs it with uvicorn.
Everything the browser loads is served by this app (Gradio's bundled assets, system fonts, the
widget): nothing comes from a CDN, and Gradio's analytics are off.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported anywhere

from fastapi import FastAPI

from rag.config import Settings

__all__ = ["create_app"]
log = logging.getLogger(__name__)


def create_app(settings: Settings, assistant=None, *, ui: bool = True) -> FastAPI:
    """The API (``/api/*``, ``/v1/*`` OpenAI-compatible, ``/mcp``, ``/widget.js``, ``/widget-demo``, ``/openapi.json``)
    with the chat UI at ``/``."""
    from rag.mcp_server import mount_mcp
    from rag.service import Assistant
    from rag.web.api import add_api
    from rag.web.documents import documents_router
    from rag.web.feedback import feedback_router
    from rag.web.openai_compat import add_openai
    from rag.web.search_api import add_search_api

    assistant = assistant or Assistant(settings)
    try:
        removed = assistant.clean_orphans()
    except OSError as exc:  # a read-only index or uploads folder: serve anyway
        log.warning("could not clean up after interrupted writes: %s", exc)
    else:
        if removed:
            log.info("removed leftovers of interrupted writes: %s", ", ".join(removed))
    app = FastAPI(
        title="Hỏi Đáp Y Tế API",
        description="Grounded answers with numbered citations over Vietnamese health-department reports.",
        version="0.1.0",
        docs_url=None,  # Swagger UI would load its assets from a CDN; /api/docs is served locally instead
        redoc_url=None,
    )
    app.state.assistant = assistant
    app.state.settings = settings
    # before add_api: its /api/* fallback would otherwise answer these paths
    app.include_router(feedback_router(settings))
    app.include_router(documents_router(assistant))
    add_api(app, assistant, settings)
    add_search_api(app, assistant, settings)  # /api/search, /api/documents
    add_openai(app, assistant, settings)  # /v1/chat/completions, /v1/models
    mount_mcp(app, assistant, settings)  # streamable HTTP at /mcp
    from rag.web.security import UPLOADS_PER_MINUTE, SecurityHeaders, SlidingWindowLimiter, UploadGuard

    if ui:
        import gradio as gr

        from rag.web.assets import CSS, GRADIO_STRINGS_VI, HEAD, theme
        from rag.web.ui import build_ui

        writes = SlidingWindowLimiter(UPLOADS_PER_MINUTE)  # the library tab's uploads and deletes
        app.state.prunables.append(writes)
        blocks = build_ui(assistant, settings, app.state.throttle, writes)
        app = gr.mount_gradio_app(
            app,
            blocks,
            path="/",
            theme=theme(),
            # Gradio ships no Vietnamese: its own labels (upload box, copy, clear…) in Vietnamese for every locale
            i18n=gr.I18n(**{loc: GRADIO_STRINGS_VI for loc in ("en", "vi", "vi-VN")}),
            css=CSS,
            head=HEAD,
            footer_links=[],
            run_history=False,
            ssr_mode=False,
            mcp_server=False,
            pwa=False,
            show_error=True,
            # above the library's own limit, so that a file a little too large gets its Vietnamese message
            max_file_size=int((settings.max_file_mb * 2 + 1) * 1024 * 1024),
            blocked_paths=[str(Path(settings.uploads_dir).resolve())],
        )
    upload_limiter = SlidingWindowLimiter(UPLOADS_PER_MINUTE)
    app.state.prunables.append(upload_limiter)
    app.add_middleware(UploadGuard, settings=settings, throttle=app.state.throttle, limiter=upload_limiter)
    app.add_middleware(SecurityHeaders)  # outermost: every response, errors and the UI's included
    return app
