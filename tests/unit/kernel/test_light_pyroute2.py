"""kernel._pyroute2: pyroute2's message classes without its 25 MB __init__, never breaking
a process that wants the real package (each case in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> None:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_kernel_room_loads_only_the_netlink_part():
    _run(
        "import sys\n"
        "import ikev2d.kernel.xfrm, ikev2d.kernel.routes, ikev2d.kernel.sockets\n"
        "heavy = {'pyroute2.iproute', 'pyroute2.ndb', 'pyroute2.ipdb', 'pyroute2.config',\n"
        "         'pyroute2.conntrack', 'asyncio', 'multiprocessing'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert 'IPRoute' not in vars(sys.modules['pyroute2'])\n"
    )


def test_real_api_still_importable_afterwards():
    _run(
        "import sys\n"
        "import ikev2d.kernel.xfrm\n"
        "from pyroute2 import IPRoute, NetlinkError\n"
        "import pyroute2\n"
        "assert IPRoute.__module__.startswith('pyroute2.iproute'), IPRoute\n"
        "assert pyroute2.__version__ and 'pyroute2.iproute' in sys.modules\n"
        "from pyroute2.netlink import nlmsg\n"
        "from ikev2d.kernel.xfrm_messages import nlmsg as ours\n"
        "assert nlmsg is ours\n"
        "try:\n"
        "    from pyroute2 import NoSuchThing\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('a missing name must still be an ImportError')\n"
    )


def test_real_package_imported_first_is_kept():
    _run(
        "import sys, pyroute2\n"
        "real = sys.modules['pyroute2']\n"
        "import ikev2d.kernel.xfrm\n"
        "assert sys.modules['pyroute2'] is real and hasattr(real, 'IPRoute')\n"
    )


@pytest.mark.parametrize("name", ["__wrapped__", "__all__"])
def test_dunder_probes_do_not_load_everything(name):
    _run(
        "import sys\n"
        "import ikev2d.kernel.xfrm\n"
        f"assert not hasattr(sys.modules['pyroute2'], {name!r})\n"
        "assert 'pyroute2.iproute' not in sys.modules\n"
    )
