"""File upload and download."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response, StreamingResponse

from nanobrain.core.user import User
from nanobrain.runtime.errors import InvalidInput
from nanobrain.security.policy import EXECUTE, READ
from nanobrain.web.body import media_type, read_form, upload_chunks
from nanobrain.web.deps import require
from nanobrain.web.problems import ProblemError
from nanobrain.web.responses import JSON
from nanobrain.web.schemas import FileInfo
from nanobrain.web.state import app_state

router = APIRouter(tags=["files"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            }
        },
    }
}


@router.post("/files", status_code=201, response_model=FileInfo, openapi_extra=_UPLOAD_BODY)
async def upload(request: Request, user: User = Depends(require(EXECUTE))) -> Response:
    state = app_state(request)
    if media_type(request) != "multipart/form-data":
        raise ProblemError(415, "upload files as multipart/form-data with a `file` part")
    form = await read_form(request, state.settings.web_interface.limits)
    try:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if len(files) != 1:
            raise InvalidInput(
                "send exactly one file part",
                [{"loc": ["body", "file"], "msg": f"got {len(files)} file parts", "type": "file"}],
            )
        upload = files[0]
        record = await state.files.upload(
            user, upload.filename, upload.content_type, upload_chunks(upload)
        )
    finally:
        await form.close()
    return JSON(
        record.public(), status_code=201, headers={"Location": f"/api/v1/files/{record.id}"}
    )


@router.get(
    "/files/{file_id}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the content"},
        500: {
            "description": "the stored content is damaged, or encrypted with a key not configured"
        },
    },
)
async def download(file_id: str, request: Request, user: User = Depends(require(READ))) -> Response:
    state = app_state(request)
    record = await state.files.get(file_id, user)
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(record.filename)}",
        "Cache-Control": "private, max-age=0",
    }
    path = state.files.blobs.plaintext_path(record.id)
    if path is not None:
        return FileResponse(path, media_type=record.content_type, headers=headers)
    # Encrypted at rest: decrypted as it is sent, never written to disk in plaintext.
    content = await state.files.verified_content(record)
    headers["Content-Length"] = str(record.size)
    return StreamingResponse(content, media_type=record.content_type, headers=headers)
