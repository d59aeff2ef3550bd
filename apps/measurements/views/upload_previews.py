"""The preview step of an upload: the chosen file (or files picked together, made into one archive) is kept in
storage under a session token until it is confirmed, and parsed for the confirm page without storing anything."""
from __future__ import annotations

import datetime
import io
import posixpath
import secrets
import zipfile

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from .. import plots
from ..ingest import ZIP_ERRORS
from ..services import IngestError, conditions_from_metadata, preview_upload

PREVIEW_DIR = "upload-previews"
SESSION_KEY = "upload_previews"
PREVIEW_MAX_AGE = datetime.timedelta(hours=24)


def store_preview(request, *, name: str, data: bytes) -> str:
    """Keep the file until it is confirmed; previews expire after a day and share MAX_PREVIEW_STORAGE_MB."""
    _make_room_for_preview(len(data))
    token = secrets.token_urlsafe(16)
    default_storage.save(f"{PREVIEW_DIR}/{token}", ContentFile(data))
    previews = request.session.get(SESSION_KEY, {})
    previews[token] = {"name": name}
    # Keep only the last few previews a user started; older files are removed.
    while len(previews) > 5:
        old = next(iter(previews))
        previews.pop(old)
        _delete_preview_file(old)
    request.session[SESSION_KEY] = previews
    return token


def _delete_preview_file(token: str) -> None:
    path = f"{PREVIEW_DIR}/{token}"
    if default_storage.exists(path):
        default_storage.delete(path)


def load_preview(request, token: str) -> tuple[str, bytes] | None:
    entry = request.session.get(SESSION_KEY, {}).get(token)
    path = f"{PREVIEW_DIR}/{token}"
    if entry is None or not default_storage.exists(path):
        return None
    with default_storage.open(path, "rb") as handle:
        return entry["name"], handle.read()


def forget_preview(request, token: str) -> None:
    previews = request.session.get(SESSION_KEY, {})
    previews.pop(token, None)
    request.session[SESSION_KEY] = previews
    _delete_preview_file(token)


PICKED_SUFFIX = " files picked together"  # the name of the archive made of files picked at once


def is_archive(name: str) -> bool:
    return name.lower().endswith(".zip") or name.endswith(PICKED_SUFFIX)


PREVIEWED_MEMBERS = 30  # files of an archive (or picked together) parsed for the confirm page; the rest are listed


def _zip_members(data: bytes) -> list[tuple[str, bytes | None]]:
    """(name, bytes) of the files in an archive, bytes only for the first PREVIEWED_MEMBERS (the rest are listed)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir() and "__MACOSX" not in i.filename][:500]
        limit = int(settings.MAX_UPLOAD_MB) * 1048576
        members = []
        for position, info in enumerate(infos):
            readable = position < PREVIEWED_MEMBERS and info.file_size <= limit and not info.flag_bits & 0x1
            members.append((info.filename, archive.read(info) if readable else None))
        return members


def _member_previews(data: bytes) -> tuple[list[dict], list[tuple[str, np.ndarray, np.ndarray]]]:
    """Each file of an archive parsed as on confirmation: format, spectra and range, or the reason it would be refused."""
    rows, curves = [], []
    for name, member in _zip_members(data):
        if member is None:
            rows.append({"name": name, "status": "listed", "reason": "parsed on confirmation"})
            continue
        try:
            parsed = preview_upload(data=member, filename=posixpath.basename(name))
        except IngestError as error:
            rows.append({"name": name, "status": "rejected", "reason": str(error)})
            continue
        f_all = np.concatenate([np.asarray(p.frequencies_hz, dtype=float) for p in parsed])
        rows.append({"name": name, "status": "ok", "format": parsed[0].format, "n_spectra": len(parsed),
                     "f_min": float(f_all.min()), "f_max": float(f_all.max())})
        curves += [(f"{posixpath.basename(name)} #{p.index + 1}", np.asarray(p.frequencies_hz), np.asarray(p.impedance_ohm))
                   for p in parsed]
    return rows, curves


def _preview_files() -> list[tuple[str, int, datetime.datetime]]:
    """(path, size in bytes, modified) of every stored preview, oldest first."""
    if not default_storage.exists(PREVIEW_DIR):
        return []
    files = []
    for name in default_storage.listdir(PREVIEW_DIR)[1]:
        path = f"{PREVIEW_DIR}/{name}"
        try:
            files.append((path, default_storage.size(path), default_storage.get_modified_time(path)))
        except OSError:
            continue  # removed by a concurrent request
    return sorted(files, key=lambda item: item[2])


def _make_room_for_preview(size_bytes: int) -> None:
    """Drop previews older than a day, then the oldest ones until this one fits in MAX_PREVIEW_STORAGE_MB."""
    limit = float(settings.MAX_PREVIEW_STORAGE_MB) * 1024 * 1024
    if size_bytes > limit:
        raise IngestError(
            f"{size_bytes / 1048576:.1f} MB is more than the {settings.MAX_PREVIEW_STORAGE_MB} MB kept for upload "
            "previews (MAX_PREVIEW_STORAGE_MB)",
            field="file",
        )
    cutoff = timezone.now() - PREVIEW_MAX_AGE
    files = _preview_files()
    kept = []
    for path, size, modified in files:
        if modified < cutoff:
            _delete_quietly(path)
        else:
            kept.append((path, size))
    total = sum(size for _, size in kept)
    for path, size in kept:
        if total + size_bytes <= limit:
            break
        _delete_quietly(path)
        total -= size


def _delete_quietly(path: str) -> None:
    try:
        default_storage.delete(path)
    except OSError:
        pass


def preview_context(name: str, data: bytes) -> dict:
    """What the confirm page shows: parsed spectra (Nyquist) and detected metadata; for an archive (or files
    picked together) each file's verdict and one Nyquist of them all."""
    if is_archive(name):
        try:
            members, curves = _member_previews(data)
        except ZIP_ERRORS as exc:
            raise IngestError(f"not a readable zip archive ({exc or type(exc).__name__})", filename=name) from None
        figures = {}
        if curves:
            figures["preview"] = plots.figure_json(plots.nyquist_figure(curves, title="Parsed spectra (nothing stored yet)"))
        return {"is_zip": True, "members": members, "figures": figures, "detected": {},
                "n_ok": sum(m["status"] == "ok" for m in members)}
    parsed = preview_upload(data=data, filename=name)
    spectra = []
    for item in parsed[:20]:
        f = np.asarray(item.frequencies_hz, dtype=float)
        z = np.asarray(item.impedance_ohm, dtype=complex)
        spectra.append(
            {
                "index": item.index,
                "format": item.format,
                "n_points": int(f.size),
                "f_min": float(f.min()),
                "f_max": float(f.max()),
                "metadata": sorted((k, v) for k, v in item.metadata.items() if not isinstance(v, (list, dict))),
            }
        )
    figure = plots.nyquist_figure(
        [(f"{name} #{p.index + 1}", np.asarray(p.frequencies_hz), np.asarray(p.impedance_ohm)) for p in parsed],
        title="Parsed spectra (nothing stored yet)",
    )
    return {
        "is_zip": False,
        "spectra": spectra,
        "n_spectra": len(parsed),
        "figures": {"preview": plots.figure_json(figure)},
        "detected": conditions_from_metadata(parsed[0].metadata),
    }


def picked_files(files) -> tuple[str, bytes]:
    """One file as it is; several picked together become an archive, so each is parsed, stored and reported
    on its own exactly like the members of an uploaded zip."""
    if len(files) == 1:
        return files[0].name, files[0].read()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for item in files:
            archive.writestr(item.name, item.read())
    return f"{len(files)}{PICKED_SUFFIX}", buffer.getvalue()
