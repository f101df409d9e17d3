"""TCP conformance of the appliance, segment by segment, from a scripted peer.

The appliance (mtcp-httpd, echo on 7, discard on 9, daytime on 13 so that it can
close first) runs on net_af_packet over a veth pair in a private namespace
`cf-tcp-XXXXXX`; this process drives the other end with a raw socket, building
and parsing frames with scapy (see tcp_peer.py). Each test names the clause it
checks. Counters come from the appliance's Prometheus endpoint inside that
namespace, so a test can tell "dropped and counted" from "lost".

Configuration of the module's appliance: rcvbuf 65536 (so the window-scale shift
it announces is 1), tcp_timewait 2 s, min_rto_ms 300 (so RTO timing can be told
from the 200 ms default), timestamps and SACK on (the defaults).
"""

import contextlib
import os
import re
import time

import pytest

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from tcp_peer import Appliance, Link, Peer, PrivateNet, seq_add

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, raw sockets)")

ADDRESS, PEER_ADDRESS = "198.19.80.1", "198.19.80.2"
ECHO, DISCARD, DAYTIME, CLOSED = 7, 9, 13, 4242
RCVBUF, SHIFT, SNDBUF = 65536, 1, 8192
TIMEWAIT, MIN_RTO = 2.0, 0.3
CONFIG = (f"rcvbuf = {RCVBUF}\nsndbuf = {SNDBUF}\nmax_concurrency = 512\nmax_num_buffers = 512\n"
          f"tcp_timewait = {TIMEWAIT:.0f}\nmin_rto_ms = {MIN_RTO * 1000:.0f}\nmemory_mb = 256\n")


@pytest.fixture(scope="module")
def net():
    network = PrivateNet("tcp")
    try:
        yield network
    finally:
        network.remove()


@pytest.fixture(scope="module")
def appliance(net, tmp_path_factory):
    app = Appliance(net, tmp_path_factory.mktemp("conformance"), ADDRESS, PEER_ADDRESS,
                    net.mac(net.peer_if), CONFIG, args=["--daytime-port", str(DAYTIME)])
    try:
        yield app
    finally:
        log = app.stop()
        print(log)


@pytest.fixture(scope="module")
def link(net, appliance):
    raw = Link(net, PEER_ADDRESS)
    try:
        yield raw
    finally:
        raw.close()


@pytest.fixture
def peer(link, appliance):
    """peer(port=7) -> a new Peer; each is reset (exact RST) after the test, and
    the appliance must still be running."""
    made = []

    def make(port=ECHO):
        p = Peer(link, port)
        p.appliance_address = ADDRESS
        made.append(p)
        return p

    yield make
    for p in made:
        if p.rcv_nxt is not None:
            p.close()
    assert appliance.alive(), "mtcp-httpd exited:\n" + appliance.stop()


def echo(p, data, timeout=3.0):
    """Sends `data` in segments of at most 1000 bytes and reads its echo."""
    for i in range(0, len(data), 1000):
        p.send("PA", data=data[i:i + 1000])
    return p.read(len(data), timeout)


def assert_gone(p):
    """The connection no longer exists: a fresh ACK is answered by <SEQ=SEG.ACK><CTL=RST>."""
    p.send("A", advance=False, options=[])
    rst = p.expect("RST from a connection that should be gone", where=lambda s: "R" in s.flags)
    assert rst.seq == p.rcv_nxt, rst


def assert_alive(p):
    assert echo(p, b"still here") == b"still here"


def counter(appliance, name):
    return appliance.counters().get(name, 0)


# ---------------------------------------------------------------- handshake and options

def test_syn_ack_acknowledges_the_syn(peer):
    """RFC 9293 §3.10.7.2 (LISTEN, third check): a SYN gets <SEQ=ISS><ACK=SEG.SEQ+1><CTL=SYN,ACK>
    with no data, and the final ACK establishes the connection (echo works)."""
    p = peer()
    synack = p.connect()
    assert synack.flags == "SA" and synack.payload == b"", synack
    assert synack.ack == seq_add(p.iss, 1)
    assert_alive(p)


@pytest.mark.parametrize("mss", [None, 1460])
@pytest.mark.parametrize("wscale", [None, 7])
@pytest.mark.parametrize("sack", [False, True])
@pytest.mark.parametrize("timestamps", [False, True])
def test_syn_ack_options_answer_the_syn(peer, mss, wscale, sack, timestamps):
    """RFC 9293 §3.7.1 (MSS always sent, here 1460 for a 1500-byte MTU), RFC 7323 §2.2
    (Window Scale only in a SYN-ACK if the SYN had it; shift 1 for a 64 KiB rcvbuf),
    RFC 2018 §2 (SACK-permitted only if offered), RFC 7323 §3.2 (Timestamps only if
    offered, TSecr = the SYN's TSval): the SYN-ACK for each combination offered."""
    p = peer()
    options = ([("MSS", mss)] if mss else []) + ([("SAckOK", b"")] if sack else [])
    tsval = p.tsval()
    if timestamps:
        options.append(("Timestamp", (tsval, 0)))
    if wscale is not None:
        options += [("NOP", None), ("WScale", wscale)]
    p.send("S", options=options)
    synack = p.expect("SYN-ACK", where=lambda s: s.has("SA"))
    p.rcv_nxt = seq_add(synack.seq, 1)
    assert synack.options.get("MSS") == 1460, synack
    assert synack.options.get("WScale") == (SHIFT if wscale is not None else None), synack
    assert ("SAckOK" in synack.options) == sack, synack
    if timestamps:
        assert synack.options["Timestamp"][1] == tsval, synack
    else:
        assert "Timestamp" not in synack.options, synack


def test_syn_ack_window_is_never_scaled(peer):
    """RFC 7323 §2.2: the window field of a SYN or SYN-ACK is never scaled, so it
    announces min(rcvbuf, 65535) even with window scaling negotiated."""
    synack = peer().connect(wscale=7)
    assert synack.window == min(RCVBUF, 65535), synack


def test_window_field_is_scaled_after_the_handshake(peer):
    """RFC 7323 §2.3: once both sides sent Window Scale, every later segment's window
    field is the free receive space shifted right by the announced shift (1)."""
    p = peer()
    p.connect(wscale=0)
    p.send("PA", data=b"x" * 100)
    reply = p.expect("echo", where=lambda s: s.payload)
    free = reply.window << SHIFT
    assert RCVBUF - 4096 <= free <= RCVBUF and reply.window < 65535, reply


def test_peer_window_scale_is_applied(peer):
    """RFC 7323 §2.3: our window field (100) is shifted by the shift we announced (2):
    the appliance may send 400 bytes and no more before our next ACK."""
    p = peer()
    p.connect(wscale=2, window=400, mss=1460)
    data = bytes(range(256)) * 8  # 2048 bytes to echo
    p.send("PA", data=data[:1024])
    p.send("PA", data=data[1024:])
    # Without our ACK, the highest byte sent (retransmissions included) stays at 400.
    highest = 0
    deadline = time.monotonic() + 1.0
    while (segment := p.recv(deadline - time.monotonic(), where=lambda s: s.payload)) is not None:
        highest = max(highest, ((segment.seq - p.rcv_nxt) & 0xFFFFFFFF) + len(segment.payload))
    assert highest == 400, f"{highest} bytes sent into a 400-byte window"
    assert p.read(2048, timeout=5) == data


def test_syn_without_mss_means_536(peer):
    """RFC 9293 §3.7.1 (MUST-15) and RFC 6691: without an MSS option the peer's MSS is 536;
    no segment carries more than 536 bytes of data."""
    p = peer()
    p.connect(mss=None)
    data = os.urandom(3000)
    assert echo(p, data) == data
    assert p.max_payload <= 536, p.max_payload


def test_peer_mss_bounds_segment_size(peer):
    """RFC 9293 §3.7.1: the appliance never sends a segment larger than the MSS we announced (700),
    less its own options (RFC 6691)."""
    p = peer()
    p.connect(mss=700)
    data = os.urandom(5000)
    assert echo(p, data) == data
    assert 600 <= p.max_payload <= 700, p.max_payload


def test_retransmitted_syn_gets_the_same_syn_ack(peer):
    """RFC 9293 §3.8.1 (retransmission) with §3.10.7.4: a retransmitted SYN in SYN-RECEIVED is
    answered with the same SYN-ACK (same ISS), not a second connection."""
    p = peer()
    syn = p.frame("S", options=[("MSS", 1460)])
    p.send_raw(syn)
    first = p.expect("SYN-ACK", where=lambda s: s.has("SA"))
    p.send_raw(syn)
    second = p.expect("second SYN-ACK", where=lambda s: s.has("SA"))
    assert (second.seq, second.ack) == (first.seq, first.ack)
    p.snd_nxt, p.rcv_nxt = seq_add(p.iss, 1), seq_add(first.seq, 1)
    p.ack()
    assert_alive(p)


def test_unacceptable_ack_in_syn_received_gets_reset(peer):
    """RFC 9293 §3.10.7.4 (SYN-RECEIVED, fifth check): an ACK that does not acknowledge our SYN
    gets <SEQ=SEG.ACK><CTL=RST>; the half-open connection survives and the right ACK completes it."""
    p = peer()
    p.send("S", options=[("MSS", 1460)])
    synack = p.expect("SYN-ACK", where=lambda s: s.has("SA"))
    wrong = seq_add(synack.seq, 5000)
    p.send("A", ack=wrong, options=[])
    rst = p.expect("RST", where=lambda s: "R" in s.flags)
    assert rst.seq == wrong and "A" not in rst.flags, rst
    p.rcv_nxt = seq_add(synack.seq, 1)
    p.ack()
    assert_alive(p)


def test_rst_in_syn_received_forgets_the_connection(peer, appliance):
    """RFC 9293 §3.10.7.4 (SYN-RECEIVED, second check): an acceptable RST of a passive open
    removes it; the ACK that would have completed the handshake then gets a RST."""
    p = peer()
    p.send("S", options=[("MSS", 1460)])
    synack = p.expect("SYN-ACK", where=lambda s: s.has("SA"))
    p.send("R", options=[], advance=False)
    p.expect_nothing(0.3)
    p.rcv_nxt = seq_add(synack.seq, 1)
    assert_gone(p)


# ---------------------------------------------------------------- no connection: CLOSED and LISTEN

def test_syn_to_closed_port_gets_rst_ack(peer):
    """RFC 9293 §3.10.7.1 (CLOSED): a segment without ACK is answered by
    <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; a SYN counts one."""
    p = peer(CLOSED)
    p.send("S", options=[("MSS", 1460)])
    rst = p.expect("RST")
    assert rst.flags == "RA" and rst.seq == 0 and rst.ack == seq_add(p.iss, 1), rst


def test_ack_to_closed_port_gets_rst_from_its_ack(peer):
    """RFC 9293 §3.10.7.1 (CLOSED): a segment with ACK is answered by <SEQ=SEG.ACK><CTL=RST>."""
    p = peer(CLOSED)
    p.send("A", ack=123456789, options=[])
    rst = p.expect("RST")
    assert rst.flags == "R" and rst.seq == 123456789, rst


def test_data_and_fin_without_ack_to_closed_port(peer):
    """RFC 9293 §3.10.7.1 (CLOSED): SEG.LEN counts data and FIN: 10 bytes + FIN without ACK
    get <SEQ=0><ACK=SEG.SEQ+11><CTL=RST,ACK>."""
    p = peer(CLOSED)
    p.send("F", data=b"0123456789", options=[])
    rst = p.expect("RST")
    assert rst.flags == "RA" and rst.ack == seq_add(p.iss, 11), rst


def test_rst_to_closed_port_is_not_answered(peer):
    """RFC 9293 §3.10.7.1 (CLOSED): an incoming RST is discarded, never answered."""
    p = peer(CLOSED)
    p.send("R", options=[])
    p.expect_nothing()


def test_rst_to_listening_port_is_ignored(peer):
    """RFC 9293 §3.10.7.2 (LISTEN, first check): an incoming RST is ignored."""
    p = peer(ECHO)
    p.send("RA", ack=1, options=[])
    p.expect_nothing()


def test_ack_to_listening_port_gets_reset(peer, appliance):
    """RFC 9293 §3.10.7.2 (LISTEN, second check): an ACK gets <SEQ=SEG.ACK><CTL=RST>. With no
    recent SYN queue overflow it is not even checked as a SYN cookie (RFC 4987; as Linux): a
    cookie-shaped ACK is an ordinary stray ACK."""
    p = peer(ECHO)
    checked = counter(appliance, "tcp_syn_cookies_checked")
    resets = counter(appliance, "tcp_resets_sent")
    p.send("A", ack=987654321, options=[])
    rst = p.expect("RST")
    assert rst.flags == "R" and rst.seq == 987654321, rst
    assert appliance.wait_counter("tcp_resets_sent", resets + 1) >= resets + 1
    assert counter(appliance, "tcp_syn_cookies_checked") == checked


def test_syn_ack_to_listening_port_gets_reset(peer):
    """RFC 9293 §3.10.7.2 (LISTEN): the ACK check comes before the SYN check, so a SYN-ACK to a
    listener gets <SEQ=SEG.ACK><CTL=RST>, not a connection."""
    p = peer(ECHO)
    p.send("SA", ack=55555, options=[("MSS", 1460)])
    rst = p.expect("RST")
    assert rst.flags == "R" and rst.seq == 55555, rst


# ---------------------------------------------------------------- sequence space: window, duplicates, order

def test_data_beyond_the_window_is_acked_not_delivered(peer, appliance):
    """RFC 9293 §3.10.7.4 (first check): a segment entirely beyond RCV.NXT+RCV.WND is not
    acceptable: an ACK goes back (<SEQ=SND.NXT><ACK=RCV.NXT>) and its data is never delivered."""
    p = peer()
    p.connect()
    before = counter(appliance, "tcp_out_of_window")
    p.send("PA", seq=seq_add(p.snd_nxt, RCVBUF + 1000), data=b"FAR" * 100)
    ack = p.expect("ACK")
    assert ack.ack == p.snd_nxt and not ack.payload, ack
    assert echo(p, b"near") == b"near"
    p.expect_nothing(0.4, where=lambda s: s.payload)
    assert appliance.wait_counter("tcp_out_of_window", before + 1) >= before + 1


def test_old_duplicate_segment_is_acked_not_delivered_again(peer):
    """RFC 9293 §3.10.7.4 (first check): a segment wholly below RCV.NXT (an old duplicate) gets
    an ACK and its data is not delivered a second time."""
    p = peer()
    p.connect()
    start = p.snd_nxt
    assert echo(p, b"first") == b"first"
    p.send("PA", seq=start, data=b"first")
    ack = p.expect("ACK of the duplicate")
    assert ack.ack == p.snd_nxt and not ack.payload, ack
    assert echo(p, b"second") == b"second"
    p.expect_nothing(0.4, where=lambda s: s.payload)


def test_segment_overlapping_the_left_edge_is_trimmed(peer):
    """RFC 9293 §3.10.7.4 (first check, 'trimmed to the window'; seventh): of a segment that
    starts below RCV.NXT only the new bytes are delivered."""
    p = peer()
    p.connect()
    start = p.snd_nxt
    assert echo(p, b"0123456789") == b"0123456789"
    p.send("PA", seq=seq_add(start, 5), data=b"56789ABCDE", advance=False)
    p.snd_nxt = seq_add(start, 15)
    assert p.read(5) == b"ABCDE"
    p.expect_nothing(0.4, where=lambda s: s.payload)


def test_out_of_order_segment_is_acked_at_once_with_sack(peer, appliance):
    """RFC 5681 §4.2 and RFC 2018 §4: a segment above a hole is acknowledged at once with a
    duplicate ACK whose first SACK block covers it; when the hole is filled both are
    delivered in order (RFC 9293 §3.10.7.4, seventh check)."""
    p = peer()
    p.connect(sack=True)
    start = p.snd_nxt
    data = os.urandom(600)
    p.send("PA", seq=seq_add(start, 300), data=data[300:])
    dup = p.expect("duplicate ACK")
    assert dup.ack == start and not dup.payload, dup
    blocks = dup.tcp.getfieldval("options")
    sack = dict(blocks).get("SAck")
    assert sack and sack[:2] == (seq_add(start, 300), seq_add(start, 600)), dup
    p.send("PA", seq=start, data=data[:300])
    p.snd_nxt = seq_add(start, 600)
    assert p.read(600) == data


def test_duplicate_segments_are_delivered_once(peer):
    """RFC 9293 §3.4 and §3.10.7.4: a segment received twice (the second copy a duplicate of data
    already taken) is delivered once."""
    p = peer()
    p.connect()
    frame = p.send("PA", data=b"only once")
    p.send_raw(frame)
    p.send_raw(frame)
    assert p.read(9) == b"only once"
    assert echo(p, b"!") == b"!"
    p.expect_nothing(0.4, where=lambda s: s.payload)


def test_overlapping_out_of_order_segments_are_delivered_once_in_order(peer):
    """RFC 9293 §3.10.7.4 (seventh check) and §3.4: overlapping segments arriving out of order
    and duplicated are reassembled; every byte is delivered exactly once, in order."""
    p = peer()
    p.connect(sack=True)
    start = p.snd_nxt
    data = os.urandom(1000)
    for first, last in ((500, 700), (650, 900), (500, 700), (100, 520), (880, 1000), (0, 150), (640, 660)):
        p.send("PA", seq=seq_add(start, first), data=data[first:last], advance=False)
    p.snd_nxt = seq_add(start, 1000)
    assert p.read(1000) == data
    p.expect_nothing(0.4, where=lambda s: s.payload)


def test_segment_without_ack_bit_is_dropped(peer):
    """RFC 9293 §3.10.7.4 (fifth check): in a synchronized state a segment without ACK is
    dropped, its data not delivered."""
    p = peer()
    p.connect()
    p.send("P", data=b"no ack bit", advance=False)
    p.expect_nothing(0.5, where=lambda s: s.payload)
    assert echo(p, b"with ack") == b"with ack"


def test_urgent_pointer_is_ignored(peer):
    """RFC 6093 §4 (urgent data delivered in line) and the README's deviation (the pointer is
    ignored): a segment with URG and an urgent pointer is delivered byte for byte."""
    p = peer()
    p.connect()
    p.send("PAU", data=b"abc!def", urgptr=4)
    assert p.read(7) == b"abc!def"


# ---------------------------------------------------------------- RFC 5961

def test_rst_in_window_but_not_exact_gets_challenge_ack(peer, appliance):
    """RFC 5961 §3.2: a RST inside the window but not at RCV.NXT gets a challenge ACK
    (<SEQ=SND.NXT><ACK=RCV.NXT>) and the connection stays."""
    p = peer()
    p.connect()
    before = counter(appliance, "tcp_challenge_acks_sent")
    p.send("R", seq=seq_add(p.snd_nxt, 100), options=[])
    ack = p.expect("challenge ACK")
    assert ack.flags == "A" and ack.ack == p.snd_nxt, ack
    assert appliance.wait_counter("tcp_challenge_acks_sent", before + 1) >= before + 1
    assert_alive(p)


def test_flood_of_in_window_rsts_gets_at_most_the_limit_of_challenge_acks(peer, appliance):
    """RFC 5961 §7: challenge ACKs are limited per connection, one per 500 ms (the README's
    off-path section): a burst of in-window RSTs gets one ACK per started 500 ms of the burst
    (plus one for an interval boundary), the others are counted as suppressed."""
    p = peer()
    p.connect()
    sent = counter(appliance, "tcp_challenge_acks_sent")
    suppressed = counter(appliance, "tcp_challenge_acks_suppressed")
    rsts = 60
    start = time.monotonic()
    for i in range(rsts):
        p.send("R", seq=seq_add(p.snd_nxt, 100 + i), options=[])
    elapsed = time.monotonic() - start
    acks = []
    while (ack := p.recv(0.4)) is not None:
        acks.append(ack)
    limit = 2 + int(elapsed / 0.5)
    assert 1 <= len(acks) <= limit, (len(acks), elapsed)
    assert all(a.flags == "A" and a.ack == p.snd_nxt for a in acks), acks
    assert appliance.wait_counter("tcp_challenge_acks_sent", sent + len(acks)) == sent + len(acks)
    assert appliance.wait_counter("tcp_challenge_acks_suppressed", suppressed + rsts - len(acks)) \
        == suppressed + rsts - len(acks)
    assert_alive(p)


def test_rst_at_rcv_nxt_resets_the_connection(peer, appliance):
    """RFC 5961 §3.2 and RFC 9293 §3.10.7.4 (second check): a RST exactly at RCV.NXT ends the
    connection: nothing answers it, and the next segment meets no connection."""
    p = peer()
    p.connect()
    before = counter(appliance, "tcp_resets_received")
    p.send("R", options=[], advance=False)
    p.expect_nothing(0.3)
    assert appliance.wait_counter("tcp_resets_received", before + 1) >= before + 1
    assert_gone(p)


def test_rst_outside_the_window_is_ignored(peer):
    """RFC 5961 §3.2 / RFC 9293 §3.10.7.4: a RST outside the receive window is silently dropped
    (no challenge ACK) and the connection stays."""
    p = peer()
    p.connect()
    p.send("R", seq=seq_add(p.snd_nxt, RCVBUF + 5000), options=[])
    p.expect_nothing()
    assert_alive(p)


def test_syn_on_established_connection_gets_challenge_ack(peer, appliance):
    """RFC 5961 §4.2: a SYN in a synchronized state, whatever its sequence number, gets a
    challenge ACK; the connection is neither reset nor restarted."""
    p = peer()
    p.connect()
    before = counter(appliance, "tcp_challenge_acks_sent")
    p.send("S", seq=seq_add(p.snd_nxt, 10), options=[("MSS", 1460)])
    ack = p.expect("challenge ACK")
    assert ack.flags == "A" and ack.ack == p.snd_nxt, ack
    assert appliance.wait_counter("tcp_challenge_acks_sent", before + 1) >= before + 1
    assert_alive(p)


def test_ack_of_unsent_data_gets_ack_and_is_dropped(peer, appliance):
    """RFC 5961 §5.2 (and RFC 9293 §3.10.7.4, fifth check): SEG.ACK > SND.NXT is answered with an
    ACK and the segment, data included, is dropped."""
    p = peer()
    p.connect()
    before = counter(appliance, "tcp_challenge_acks_sent")
    p.send("PA", ack=seq_add(p.rcv_nxt, 10000), data=b"bogus", advance=False)
    ack = p.expect("ACK")
    assert ack.ack == p.snd_nxt and not ack.payload, ack
    assert appliance.wait_counter("tcp_challenge_acks_sent", before + 1) >= before + 1
    assert echo(p, b"real") == b"real"
    p.expect_nothing(0.4, where=lambda s: s.payload)


def test_ack_older_than_the_largest_window_gets_ack_and_is_dropped(peer):
    """RFC 5961 §5.2: SEG.ACK < SND.UNA - MAX.SND.WND is not acceptable either: ACK, drop."""
    p = peer()
    p.connect()
    p.send("PA", ack=seq_add(p.rcv_nxt, -200000), data=b"stale", advance=False)
    ack = p.expect("ACK")
    assert ack.ack == p.snd_nxt and not ack.payload, ack
    assert echo(p, b"fresh") == b"fresh"


# ---------------------------------------------------------------- timestamps and PAWS

def test_paws_drops_a_segment_with_an_old_timestamp(peer, appliance):
    """RFC 7323 §5.3 (R1): a segment whose TSval is older than TS.Recent is not acceptable: an
    ACK is sent and the segment dropped; counted as PAWS."""
    p = peer()
    p.connect()
    assert echo(p, b"now") == b"now"
    before = counter(appliance, "tcp_paws_rejected")
    old = (p.tsval() - 100000) & 0xFFFFFFFF
    p.send("PA", data=b"old", options=[("Timestamp", (old, p.ts_recent))], advance=False)
    ack = p.expect("ACK")
    assert ack.ack == p.snd_nxt and not ack.payload, ack
    assert appliance.wait_counter("tcp_paws_rejected", before + 1) >= before + 1
    assert echo(p, b"new") == b"new"


def test_paws_does_not_apply_to_rst(peer):
    """RFC 7323 §5.2: RST segments are acceptable regardless of their timestamp: an exact RST
    with an old TSval still ends the connection."""
    p = peer()
    p.connect()
    assert echo(p, b"x") == b"x"
    old = (p.tsval() - 100000) & 0xFFFFFFFF
    p.send("R", options=[("Timestamp", (old, 0))], advance=False)
    p.expect_nothing(0.3)
    assert_gone(p)


def test_timestamp_echo_follows_the_latest_tsval(peer):
    """RFC 7323 §3.2 and §4.3: with timestamps negotiated every segment carries the option, and
    TSecr echoes the TSval of the segment that advanced RCV.NXT."""
    p = peer()
    p.connect()
    for tsval in (p.tsval() + 1000, p.tsval() + 5000):
        p.send("PA", data=b"ts", options=[("Timestamp", (tsval & 0xFFFFFFFF, p.ts_recent))])
        reply = p.expect("echo", where=lambda s: s.payload)
        p.rcv_nxt = seq_add(reply.seq, len(reply.payload))
        assert reply.options["Timestamp"][1] == tsval & 0xFFFFFFFF, reply
        p.ack()



def test_two_connections_from_one_client_show_unrelated_tsvals(peer):
    """RFC 7323 §7.1: each connection's TSvals carry an offset of their own (a keyed hash of
    the 4-tuple), so two connections opened together from one client do not share a clock an
    observer could link them by (a shared millisecond clock would put their SYN-ACKs' TSvals
    within the few ms between them). Either's TSvals still advance with time."""
    first, second = peer(), peer()
    tsvals = [p.connect().options["Timestamp"][0] for p in (first, second)]
    gap = (tsvals[1] - tsvals[0]) & 0xFFFFFFFF
    assert 1000 < gap < (1 << 32) - 1000, tsvals
    time.sleep(0.2)
    first.send("PA", data=b"t")
    later = first.expect("echo", where=lambda s: s.payload)
    advanced = (later.options["Timestamp"][0] - tsvals[0]) & 0xFFFFFFFF
    assert 150 <= advanced < 5000, (tsvals[0], later.options["Timestamp"][0])


# ---------------------------------------------------------------- windows: zero window and probes

def test_zero_window_probes_back_off(peer, appliance):
    """RFC 9293 §3.8.6.1 and RFC 1122 §4.2.2.17: facing a zero window the appliance sends no
    data but probes (here <SEQ=SND.UNA-1>, no data, which forces an ACK), at exponentially
    growing intervals (RFC 6298 §5.5), and sends the data once the window opens."""
    p = peer()
    p.connect()
    before = counter(appliance, "tcp_zero_window_probes")
    p.window = 0
    p.send("PA", data=b"held back")
    probes = []
    while len(probes) < 3:
        segment = p.expect("zero-window probe", timeout=3.0)
        assert not segment.payload, f"data sent into a zero window: {segment}"
        if segment.seq == seq_add(p.rcv_nxt, -1):
            probes.append(segment)
            p.ack()  # still zero
    gaps = [b.time - a.time for a, b in zip(probes, probes[1:])]
    assert gaps[0] >= MIN_RTO * 0.8 and gaps[1] >= 1.5 * gaps[0], f"probe intervals {gaps}"
    assert appliance.wait_counter("tcp_zero_window_probes", before + 3) >= before + 3
    p.window = 65535
    p.ack()
    assert p.read(9) == b"held back"


def test_closed_receive_window_still_answers_a_probe(peer, appliance):
    """RFC 9293 §3.8.6.1 / §3.10.7.4: when our data fills the appliance's buffers (its echo cannot
    be sent: our window is zero), it announces a zero window; a one-byte probe at RCV.NXT is
    answered with an ACK that keeps the zero window and takes no data; everything sent before
    is echoed intact once we read."""
    p = peer()
    p.connect()
    p.window = 0
    data = os.urandom(RCVBUF + SNDBUF + 20 * 1400)
    last = None
    for i in range(0, len(data), 1400):
        p.send("PA", data=data[i:i + 1400])
        while (segment := p.recv(0.002)) is not None:
            last = segment
    while (segment := p.recv(0.3)) is not None:
        last = segment
    assert last is not None and last.window == 0, f"window never closed: {last}"
    taken = (last.ack - seq_add(p.iss, 1)) & 0xFFFFFFFF
    assert RCVBUF <= taken <= RCVBUF + SNDBUF, taken
    p.send("PA", seq=last.ack, data=data[taken:taken + 1], advance=False)
    answer = p.expect("ACK of the probe", where=lambda s: not s.payload and s.window == 0)
    assert answer.ack == last.ack, answer
    p.snd_nxt = last.ack
    p.window = 65535
    p.ack()
    assert p.read(taken, timeout=10) == data[:taken]


# ---------------------------------------------------------------- closing: every state

def test_fin_in_established_then_close_wait_and_last_ack(peer, appliance):
    """RFC 9293 §3.10.7.4 (eighth check) and §3.6: our FIN is acknowledged (ESTABLISHED ->
    CLOSE-WAIT), the echo service closes (-> LAST-ACK, its FIN), and our ACK of that FIN ends
    the connection (-> CLOSED)."""
    p = peer()
    p.connect()
    before = counter(appliance, "tcp_closed")
    p.send("FA", data=b"bye")
    assert p.read(3) == b"bye"
    fin = p.expect("FIN", where=lambda s: "F" in s.flags)
    assert fin.ack == p.snd_nxt and fin.seq == p.rcv_nxt, fin
    p.rcv_nxt = seq_add(p.rcv_nxt, 1)
    p.ack()
    assert appliance.wait_counter("tcp_closed", before + 1) >= before + 1
    assert_gone(p)


def test_last_ack_retransmits_fin_until_acknowledged(peer):
    """RFC 9293 §3.8.1 and §3.10.7.4 (LAST-ACK): an unacknowledged FIN is retransmitted with the
    same sequence number after an RTO; only its ACK ends the connection."""
    p = peer()
    p.connect()
    p.send("FA")
    fin = p.expect("FIN", where=lambda s: "F" in s.flags)
    again = p.expect("retransmitted FIN", timeout=3.0, where=lambda s: "F" in s.flags)
    assert again.seq == fin.seq and again.time - fin.time >= MIN_RTO * 0.8, (fin, again)
    p.rcv_nxt = seq_add(fin.seq, 1)
    p.ack()
    assert_gone(p)


def test_data_after_our_fin_is_not_delivered(peer):
    """RFC 9293 §3.10.7.4 (seventh check, CLOSE-WAIT / LAST-ACK): after the peer's FIN, segment
    text 'should not occur' and is ignored: data sent past our FIN is not echoed."""
    p = peer()
    p.connect()
    p.send("FA")
    fin = p.expect("FIN", where=lambda s: "F" in s.flags)
    p.send("PA", data=b"after fin", ack=fin.seq)
    reply = p.expect("ACK", where=lambda s: "F" not in s.flags or s.seq != fin.seq)
    assert not reply.payload and reply.ack == seq_add(p.snd_nxt, -9), reply
    p.expect_nothing(0.4, where=lambda s: s.payload)


def daytime_close(p):
    """Connects to daytime (RFC 867), reads its line; returns the appliance's FIN segment
    (FIN-WAIT-1 on the appliance's side) without acknowledging it."""
    p.connect()
    line = b""
    fin = None
    while fin is None:
        segment = p.expect("daytime line and FIN", timeout=3.0)
        if segment.seq == p.rcv_nxt and segment.payload:
            line += segment.payload
            p.rcv_nxt = seq_add(p.rcv_nxt, len(segment.payload))
        if "F" in segment.flags:
            fin = segment
    assert line.endswith(b"\r\n") and b"UTC" in line, line
    assert seq_add(fin.seq, len(fin.payload)) == p.rcv_nxt, fin
    return fin, p.rcv_nxt


def test_fin_wait_1_retransmits_fin_until_acknowledged(peer):
    """RFC 9293 §3.8.1 and §3.10.7.4 (FIN-WAIT-1): after the application's close the FIN is
    retransmitted while unacknowledged, even when the data before it was acknowledged."""
    p = peer(DAYTIME)
    fin, _ = daytime_close(p)
    p.ack()  # acknowledges the line, not the FIN
    again = p.expect("retransmitted FIN", timeout=3.0, where=lambda s: "F" in s.flags)
    assert seq_add(again.seq, len(again.payload)) == p.rcv_nxt, again
    assert again.time - fin.time >= MIN_RTO * 0.8


def test_fin_wait_2_then_time_wait(peer, appliance):
    """RFC 9293 §3.10.7.4 (FIN-WAIT-1 -> FIN-WAIT-2 on the ACK of our FIN, no more
    retransmission; FIN-WAIT-2 -> TIME-WAIT on the peer's FIN, which is acknowledged)."""
    p = peer(DAYTIME)
    _, fin_seq = daytime_close(p)
    p.rcv_nxt = seq_add(p.rcv_nxt, 1)
    p.ack()
    p.expect_nothing(MIN_RTO * 3)  # FIN-WAIT-2: nothing left to retransmit
    p.send("FA")
    ack = p.expect("ACK of our FIN")
    assert ack.flags == "A" and ack.ack == p.snd_nxt and ack.seq == seq_add(fin_seq, 1), ack


def test_simultaneous_close_goes_through_closing(peer):
    """RFC 9293 §3.6 (figure 13) and §3.10.7.4 (FIN-WAIT-1 + FIN -> CLOSING; CLOSING + ACK of
    our FIN -> TIME-WAIT): the appliance acknowledges our FIN while its own is unacknowledged,
    keeps retransmitting its FIN, and in TIME-WAIT acknowledges our retransmitted FIN."""
    p = peer(DAYTIME)
    _, fin_seq = daytime_close(p)
    p.send("FA")  # ack = the appliance's FIN sequence, not past it
    ack = p.expect("ACK of our FIN", where=lambda s: s.ack == p.snd_nxt)
    assert ack.seq in (fin_seq, seq_add(fin_seq, 1)), ack
    again = p.expect("retransmitted FIN in CLOSING", timeout=3.0, where=lambda s: "F" in s.flags)
    assert again.ack == p.snd_nxt and seq_add(again.seq, len(again.payload)) == fin_seq, again
    p.rcv_nxt = seq_add(p.rcv_nxt, 1)
    p.ack()
    p.send("FA", seq=seq_add(p.snd_nxt, -1), advance=False)
    reack = p.expect("ACK in TIME-WAIT")
    assert reack.flags == "A" and reack.ack == p.snd_nxt, reack


def test_time_wait_lasts_tcp_timewait(peer):
    """RFC 9293 §3.10.7.4 (TIME-WAIT; first check for the duplicate FIN) and mtcp.conf
    tcp_timewait (2 s here, README: a deviation from 2·MSL): a retransmitted FIN is
    re-acknowledged; the connection is gone about tcp_timewait seconds later."""
    p = peer(DAYTIME)
    daytime_close(p)
    p.rcv_nxt = seq_add(p.rcv_nxt, 1)
    p.send("FA")
    entered = p.expect("ACK of our FIN").time
    time.sleep(0.5)
    p.send("FA", seq=seq_add(p.snd_nxt, -1), advance=False)
    assert p.expect("re-ACK of a duplicate FIN").ack == p.snd_nxt
    rst = None
    while rst is None and time.monotonic() - entered < TIMEWAIT + 2:
        p.send("A", advance=False, options=[])
        rst = p.recv(0.1, where=lambda s: "R" in s.flags)
    assert rst is not None, "still in TIME-WAIT"
    lived = rst.time - entered
    assert TIMEWAIT - 0.2 <= lived <= TIMEWAIT + 1.0, lived


# ---------------------------------------------------------------- retransmission timing

def test_syn_ack_retransmission_backs_off(peer):
    """RFC 6298 §2.1 (initial RTO 1 s) and §5.5 (doubled at each expiry): unanswered SYN-ACKs
    come again after about 1 s, then 2 s, with the same ISS."""
    p = peer()
    p.send("S", options=[("MSS", 1460)])
    synacks = [p.expect("SYN-ACK", timeout=5.0, where=lambda s: s.has("SA")) for _ in range(3)]
    assert len({s.seq for s in synacks}) == 1
    gaps = [b.time - a.time for a, b in zip(synacks, synacks[1:])]
    assert 0.8 <= gaps[0] <= 1.3 and 1.7 <= gaps[1] <= 2.5, gaps
    p.send("R", options=[], advance=False)


def test_data_retransmission_backs_off_from_min_rto(peer):
    """RFC 6298 §2.4 (RTO bounded below, here min_rto_ms = 300), §5.4 (the earliest unacknowledged
    segment is resent) and §5.5 (backoff): unacknowledged echo data comes back after about 0.3,
    0.6 and 1.2 s, same bytes, same sequence number."""
    p = peer()
    p.connect()
    p.send("PA", data=b"retransmit me")
    copies = [p.expect("data", timeout=3.0, where=lambda s: s.payload) for _ in range(4)]
    assert {(c.seq, c.payload) for c in copies} == {(copies[0].seq, b"retransmit me")}, copies
    gaps = [b.time - a.time for a, b in zip(copies, copies[1:])]
    for gap, expected in zip(gaps, (MIN_RTO, 2 * MIN_RTO, 4 * MIN_RTO)):
        assert expected * 0.8 <= gap <= expected * 1.4 + 0.05, gaps


# ---------------------------------------------------------------- loss recovery

def test_sacked_hole_is_resent_after_the_third_duplicate_ack(peer):
    """RFC 5681 §3.2 and RFC 6675 §5 (issue 23.2): of six echoed segments the second is lost;
    an ACK for the first, then three duplicate ACKs whose SACK blocks cover the 3rd, the 3rd to
    5th and the 3rd to 6th make the appliance resend the hole at once, not when the RTO fires
    (min_rto_ms 300). Eight connections, so that their ISS values fall on both halves of the
    sequence space: the recovery guard used to compare SND.UNA with sequence 0, false for
    half of them."""
    for _ in range(8):
        p = peer()
        p.connect(sack=True)
        echoed = []
        for index in range(6):
            p.send("PA", data=bytes([0x41 + index]) * 1000)
            echoed.append(p.expect(f"echo of segment {index + 1}", where=lambda s: s.payload))
        assert [len(s.payload) for s in echoed] == [1000] * 6, echoed
        hole = echoed[1]
        ack = seq_add(echoed[0].seq, 1000)
        p.send("A", ack=ack)
        for last in (3, 4, 5):
            sack = ("SAck", (echoed[2].seq, seq_add(echoed[last].seq, 1000)))
            p.send("A", ack=ack, options=[("NOP", None), ("NOP", None),
                                          ("Timestamp", (p.tsval(), p.ts_recent)), sack])
        third_duplicate = time.monotonic()
        resent = p.expect("the hole resent", timeout=2.0, where=lambda s: s.seq == hole.seq and s.payload)
        assert resent.payload[:1000] == hole.payload, resent
        assert resent.time - third_duplicate < MIN_RTO / 2, (
            f"resent {resent.time - third_duplicate:.3f} s after the third duplicate ACK, "
            f"{resent.time - hole.time:.3f} s after the original (ISS {p.irs})")


# ---------------------------------------------------------------- malformed segments

def assert_dropped_and_counted(p, appliance, frame, drop_reason, counter_name):
    before = appliance.counters()
    p.send_raw(frame)
    p.expect_nothing(0.5)
    for name in (f"dropped_frames{{{drop_reason}}}", counter_name):
        assert appliance.wait_counter(name, before.get(name, 0) + 1) == before.get(name, 0) + 1, name
    assert_alive(p)


def test_bad_checksum_is_dropped_and_counted(peer, appliance):
    """RFC 9293 §3.1 (MUST-2/3) and RFC 1122 §4.2.2.7: the receiver checks the checksum; a segment
    that fails is discarded without an answer, and counted."""
    p = peer()
    p.connect()
    frame = Ether(bytes(p.frame("PA", data=b"corrupt")))
    frame[TCP].chksum ^= 0x5A5A
    assert_dropped_and_counted(p, appliance, frame, "tcp_bad_checksum", "tcp_bad_checksum")


def test_data_offset_below_five_is_dropped(peer, appliance):
    """RFC 9293 §3.1 (Data Offset counts 32-bit words of a header of at least 20 bytes): an offset
    of 4 is malformed: dropped and counted."""
    p = peer()
    p.connect()
    frame = p.raw_frame("PA", data=b"malformed", header_length=16)
    assert_dropped_and_counted(p, appliance, frame, "tcp_malformed", "tcp_malformed")


def test_data_offset_past_the_segment_is_dropped(peer, appliance):
    """RFC 9293 §3.1: a Data Offset (15 words, 60 bytes) beyond the segment's end is malformed."""
    p = peer()
    p.connect()
    frame = p.raw_frame("A", header_length=60)
    assert_dropped_and_counted(p, appliance, frame, "tcp_malformed", "tcp_malformed")


def test_truncated_tcp_header_is_dropped(peer, appliance):
    """RFC 9293 §3.1: an IP datagram carrying fewer than 20 bytes of TCP header is malformed."""
    p = peer()
    p.connect()
    frame = p.raw_frame("A", segment_length=12)
    assert_dropped_and_counted(p, appliance, frame, "tcp_malformed", "tcp_malformed")


def test_option_length_zero_is_dropped(peer, appliance):
    """RFC 9293 §3.1 (MUST-7: be prepared for an illegal option length such as zero): a SYN with
    an option of length 0 is dropped and counted, never answered."""
    p = peer()
    frame = p.raw_frame("S", b"\x02\x04\x05\xb4" + b"\x08\x00")
    before = counter(appliance, "tcp_malformed")
    p.send_raw(frame)
    p.expect_nothing()
    assert appliance.wait_counter("tcp_malformed", before + 1) == before + 1


def test_option_length_past_the_header_is_dropped(peer, appliance):
    """RFC 9293 §3.1 (MUST-7): an option whose length runs past the end of the header (a
    timestamp claiming 40 bytes in an 8-byte option area) is dropped and counted."""
    p = peer()
    p.connect()
    frame = p.raw_frame("PA", b"\x01\x01\x08\x28" + b"\x00" * 4, data=b"overflow")
    assert_dropped_and_counted(p, appliance, frame, "tcp_malformed", "tcp_malformed")


def test_mss_option_with_wrong_length_is_dropped(peer, appliance):
    """RFC 9293 §3.2 (MSS option length is 4) and MUST-7: an MSS option of length 3 makes the SYN
    malformed: dropped, counted, not answered."""
    p = peer()
    frame = p.raw_frame("S", b"\x02\x03\x05\x01")
    before = counter(appliance, "tcp_malformed")
    p.send_raw(frame)
    p.expect_nothing()
    assert appliance.wait_counter("tcp_malformed", before + 1) == before + 1


def test_unknown_option_is_ignored(peer):
    """RFC 9293 §3.1 (MUST-68: options not implemented are ignored, lengths honoured): a SYN with
    an unknown option kind is answered normally and the connection works."""
    p = peer()
    frame = p.raw_frame("S", b"\xfd\x06ABCD" + b"\x02\x04\x05\xb4")
    p.send_raw(frame)
    p.snd_nxt = seq_add(p.iss, 1)
    synack = p.expect("SYN-ACK", where=lambda s: s.has("SA"))
    assert synack.ack == p.snd_nxt and synack.options.get("MSS") == 1460
    p.rcv_nxt = seq_add(synack.seq, 1)
    p.ack()
    assert_alive(p)


# ---------------------------------------------------------------- an appliance with the default configuration

@contextlib.contextmanager
def own_appliance(directory, tag, extra=""):
    """An appliance of its own in its own namespace (mtcp.conf: the defaults and
    `extra`), with a link; yields it and a peer factory, and stops it afterwards."""
    network = PrivateNet(tag)
    app = raw = None
    try:
        app = Appliance(network, directory, ADDRESS, PEER_ADDRESS, network.mac(network.peer_if), extra,
                        args=["--daytime-port", str(DAYTIME)])
        raw = Link(network, PEER_ADDRESS)

        def make(port=ECHO):
            p = Peer(raw, port)
            p.appliance_address = ADDRESS
            return p

        yield app, make
    finally:
        if raw is not None:
            raw.close()
        if app is not None:
            app.stop()
        network.remove()


@pytest.fixture
def default_appliance(tmp_path):
    """An appliance with the default configuration (tcp_timewait 0), stopped by the
    test or afterwards."""
    with own_appliance(tmp_path, "dft") as made:
        yield made


def test_tcp_timewait_zero_frees_the_connection_at_once(default_appliance):
    """mtcp.conf tcp_timewait = 0 (mTCP's default; README: a deviation from RFC 9293's 2·MSL):
    after the ACK of our FIN in FIN-WAIT-2 the connection is gone at once."""
    appliance, make = default_appliance
    p = make(DAYTIME)
    daytime_close(p)
    p.rcv_nxt = seq_add(p.rcv_nxt, 1)
    p.ack()
    p.send("FA")
    ack = p.expect("ACK of our FIN")
    assert ack.ack == p.snd_nxt, ack
    assert_gone(p)


def test_drop_counts_are_in_the_stop_report(default_appliance):
    """RFC 1122 §4.2.2.7 / RFC 9293 §3.1: bad segments are discarded, and the appliance accounts
    for them: its report on SIGINT counts each bad checksum and malformed header."""
    appliance, make = default_appliance
    p = make()
    p.connect()
    frame = Ether(bytes(p.frame("PA", data=b"corrupt")))
    frame[TCP].chksum ^= 0xFFFF
    for bad in (frame, frame, p.raw_frame("PA", data=b"x", header_length=16), p.raw_frame("A", segment_length=8)):
        p.send_raw(bad)
    assert echo(p, b"after") == b"after"
    log = appliance.stop()
    assert appliance.stack.proc.returncode == 0, log
    assert "tcp: bad checksum 2, malformed 2," in log, log
    assert re.search(r"drops: 4 \(.*tcp_malformed 2", log) and "tcp_bad_checksum 2" in log, log


def test_peer_rtt_cache_times_the_next_syn_ack_from_the_last_rtt(tmp_path):
    """peer_rtt_cache = on (RFC 9040 temporal sharing): after a connection from this peer
    closed in order, the next one's unanswered SYN-ACK comes again after the RTO that
    connection measured (here min_rto_ms, 300 ms), not RFC 6298's 1 s, then after 1 s as
    without the cache; the counter names the seeded handshake."""
    with own_appliance(tmp_path, "rtt", f"peer_rtt_cache = on\nmin_rto_ms = {MIN_RTO * 1000:.0f}\n") as made:
        appliance, make = made
        p = make()
        p.connect()
        assert echo(p, b"measure me") == b"measure me"
        p.send("FA")
        fin = p.expect("FIN", where=lambda s: "F" in s.flags)
        p.rcv_nxt = seq_add(fin.seq, 1)
        p.ack()
        assert appliance.wait_counter("tcp_closed", 1) >= 1
        q = make()
        q.send("S", options=[("MSS", 1460), ("Timestamp", (q.tsval(), 0))])
        synacks = [q.expect("SYN-ACK", timeout=3.0, where=lambda s: s.has("SA")) for _ in range(3)]
        gaps = [b.time - a.time for a, b in zip(synacks, synacks[1:])]
        assert MIN_RTO * 0.8 <= gaps[0] <= MIN_RTO + 0.3 and 0.8 <= gaps[1] <= 1.3, gaps
        assert counter(appliance, "tcp_cached_rtt_opens") == 1
        q.send("R", options=[], advance=False)
