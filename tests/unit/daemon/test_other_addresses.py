"""What MOBIKE clients are told of our other addresses (ADDITIONAL_IP4/6_ADDRESS): the
addresses beside the contacted one that an IKE socket receives on, asked of the kernel (an
address dump) once per OTHER_ADDRESSES_REUSED_FOR seconds, not once per connecting client."""

from __future__ import annotations

from daemon_support import LogCapture, server_table

from ikev2d.compat import Logger
from ikev2d.daemon.loop import OTHER_ADDRESSES_REUSED_FOR, Daemon
from ikev2d.daemon.memory_datapath import MemoryDatapath
from ikev2d.policy.config import from_mapping


def test_a_burst_of_mobike_clients_costs_one_address_lookup(tmp_path, monkeypatch):
    clock = [100.0]
    datapath = MemoryDatapath()
    datapath.neighbours = {"127.0.0.1": ["192.0.2.7", "2001:db8::7"]}  # no IPv6 socket here
    asked = []
    beside = datapath.addresses_beside
    monkeypatch.setattr(datapath, "addresses_beside", lambda a: asked.append(a) or beside(a))
    config = from_mapping({"server": server_table(tmp_path, listen=["0.0.0.0"])})
    daemon = Daemon(config, datapath=datapath, clock=lambda: clock[0],
                    log=Logger("error", stream=LogCapture()))  # fmt: skip
    daemon.start()
    try:
        others = daemon.responder.other_addresses  # what the responder asks per MOBIKE client
        for _ in range(50):  # clients connecting within a second
            assert others("127.0.0.1") == ["192.0.2.7"]
            clock[0] += 0.02
        assert asked == ["127.0.0.1"]
        datapath.neighbours["127.0.0.1"] = ["192.0.2.8"]  # the router's addresses changed
        clock[0] = 100.0 + OTHER_ADDRESSES_REUSED_FOR - 0.01
        assert others("127.0.0.1") == ["192.0.2.7"] and len(asked) == 1
        clock[0] = 100.0 + OTHER_ADDRESSES_REUSED_FOR
        assert others("127.0.0.1") == ["192.0.2.8"] and len(asked) == 2
        assert others("192.0.2.8") == [] and asked[-1] == "192.0.2.8"  # per contacted address
    finally:
        daemon.close()
