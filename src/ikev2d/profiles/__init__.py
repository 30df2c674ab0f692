"""Client configuration export: Apple .mobileconfig, Windows PowerShell, strongSwan .sswan,
the Android built-in client's setup card, and ``ikev2ctl check``'s platform report."""

from .check import check_main, check_report, format_report
from .common import PLATFORMS, Profile, ProfileError
from .render import profile_command, profile_main, profile_request, render_profile

__all__ = [
    "PLATFORMS",
    "Profile",
    "ProfileError",
    "check_main",
    "check_report",
    "format_report",
    "profile_command",
    "profile_main",
    "profile_request",
    "render_profile",
]
