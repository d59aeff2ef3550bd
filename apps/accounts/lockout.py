"""What a locked-out sign-in sees (django-axes calls ``lockout_response``; settings.AXES_LOCKOUT_CALLABLE).

Web pages (login, admin login) get a readable page; the API gets 429 in its one error format.
"""
from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.http import JsonResponse
from django.shortcuts import render
from rest_framework import exceptions, status

from apps.common.api import error_body


def lockout_message(request=None) -> str:
    minutes = max(1, math.ceil(get_cool_off(request).total_seconds() / 60))
    return (
        f"Too many failed sign-ins for this username from your address: signing in is locked for {minutes} "
        f"minutes after the last failed attempt. Wait, then try again (or ask an administrator to unlock it)."
    )


class LockedOut(exceptions.Throttled):
    """The API's answer to a sign-in while locked out: 429, code ``locked_out``, with Retry-After."""

    default_code = "locked_out"

    def __init__(self, request=None):
        super().__init__(wait=get_cool_off(request).total_seconds(), detail=lockout_message(request))


def lockout_response(request, original_response=None, credentials=None):
    seconds = int(get_cool_off(request).total_seconds())
    if request.path.startswith("/api/"):
        response = JsonResponse(
            error_body(status.HTTP_429_TOO_MANY_REQUESTS, "locked_out", lockout_message(request)),
            status=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"message": lockout_message(request)},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    response["Retry-After"] = str(seconds)
    return response
