# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The OpenNebula simulator cannot drift from OpenNebula 5: every recorded cassette is replayed
against it, seeded to the recording's initial state, over HTTP on loopback, and each answer must
have the recorded shape (onesim.recorded says exactly what is normalized)."""

from __future__ import annotations

import xmlrpc.client

import pyone
import pytest
import requests

from onesim import OneSim, World
from onesim import recorded

CASSETTES = recorded.cassettes()


def replay_request(request: str, payload: str) -> bytes:
    """The recorded call, with the recorded PATH (a file on the recording machine) replaced by a
    one-byte file here, which is what the recording's SIZE of 1 MB says it was."""
    params, method = xmlrpc.client.loads(request.encode())
    if method == "one.image.allocate":
        params = (params[0], params[1].replace("/var/tmp/file.img", payload), *params[2:])
    return xmlrpc.client.dumps(params, method).encode()


@pytest.mark.parametrize("cassette", CASSETTES, ids=[c.parent.name + "/" + c.stem for c in CASSETTES])
def test_the_simulator_answers_each_recording_in_its_shape(cassette, tmp_path):
    pairs = recorded.interactions(cassette)
    world = World(str(tmp_path / "one"))
    recorded.seed(world, pairs)
    recorded.HAND_SEEDS.get(cassette.parent.name, lambda w: None)(world)
    payload = tmp_path / "file.img"
    payload.write_bytes(b"x")
    sim = OneSim(str(tmp_path / "one"), world).start()
    try:
        for number, (request, response) in enumerate(pairs):
            got = requests.post(sim.url, data=replay_request(request, str(payload)), timeout=10)
            assert got.status_code == 200 and got.headers["Server"].startswith("Xmlrpc-c_Abyss")
            loose = (cassette.stem, number) in recorded.ANOMALIES
            assert recorded.shape(got.text, loose) == recorded.shape(response, loose), f"call {number} of {cassette.name}"
    finally:
        sim.stop()
    assert len(world.calls) == len(pairs)


def test_the_recordings_cover_every_method_and_error_code():
    methods, codes = set(), set()
    for cassette in CASSETTES:
        for request, response in recorded.interactions(cassette):
            methods.add(xmlrpc.client.loads(request.encode())[1])
            codes.add(xmlrpc.client.loads(response.encode())[0][0][2])
    assert {"one.image.allocate", "one.image.info", "one.imagepool.info", "one.image.chmod", "one.image.rename",
            "one.image.enable", "one.image.update", "one.image.delete", "one.datastorepool.info"} <= methods
    assert codes == {0, 256, 512, 1024, 2048}


def test_pyone_reads_the_simulator_and_raises_its_error_codes(tmp_path):
    sim = OneSim(str(tmp_path / "one")).start()
    try:
        one = pyone.OneServer(sim.url, session="oneadmin:opennebula")
        assert [ds.NAME for ds in one.datastorepool.info().DATASTORE] == ["system", "default", "files"]
        image = tmp_path / "disk.img"
        image.write_bytes(b"y" * 3_000_000)
        new = one.image.allocate(f'NAME = "disk"\nPATH = "{image}"\nVMCATCHER_EVENT_DC_TITLE = "a \\"quoted\\" one"', 1)
        assert one.image.info(new).STATE == 4 and one.image.info(new).STATE == 1
        info = one.image.info(new)
        assert info.SIZE == 3 and info.TEMPLATE["VMCATCHER_EVENT_DC_TITLE"] == 'a "quoted" one'
        assert sim.world.stored_bytes(new) == image.read_bytes()
        sim.world.attach_vm(new)
        with pytest.raises(pyone.OneActionException, match="There are 1 VMs using it"):
            one.image.delete(new)
        with pytest.raises(pyone.OneNoExistsException, match=r"Error getting image \[42\]"):
            one.image.info(42)
        with pytest.raises(pyone.OneAuthenticationException):
            pyone.OneServer(sim.url, session="oneadmin:wrong").imagepool.info(-2, -1, -1)
        with pytest.raises(pyone.OneAuthorizationException, match="Not authorized to perform USE IMAGE"):
            pyone.OneServer(sim.url, session="user:opennebula").image.info(new)
    finally:
        sim.stop()
