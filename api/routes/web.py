"""GET /: the search page, and GET /static/{name}: its script, style sheet and icon.

The page shell and its assets hold no data: every result comes from the JSON routes,
which demand the API key when one is set. So these are served without a key; the page
asks for the key when the API answers 401.
"""

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

# The page loads only its own files and talks only to this server; with no inline script
# allowed, text that slipped into the page as markup still could not run.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
# Only these kinds of file are served from STATIC_DIR; a name holds no slash.
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html",
                        headers=PAGE_HEADERS)


@router.get("/static/{name}")
async def asset(name: str) -> FileResponse:
    path = STATIC_DIR / name
    media_type = ASSET_TYPES.get(path.suffix)
    if name.startswith(".") or media_type is None or not path.is_file():
        raise HTTPException(404, f"no such asset: {name}")
    # no-cache: revalidate (ETag), so an upgraded server never runs an old script.
    return FileResponse(path, media_type=media_type,
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
