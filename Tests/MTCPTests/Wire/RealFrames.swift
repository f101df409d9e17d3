/// Frames built by scapy 2.5 (Debian python3-scapy) and pasted as hex; their
/// checksums are scapy's, so our verification is checked against an independent
/// implementation. Hosts 02:00:00:00:00:01 / 198.18.0.2 and 02:00:00:00:00:02 / 198.18.0.1.
enum RealFrames {
    /// Ether/IP(id=0x1234, DF)/TCP(40000 -> 80, seq=0x01020304, SYN, window 64240,
    /// options MSS 1460, SAckOK, Timestamp(123456, 0), NOP, WScale 7): Linux's layout.
    static let syn = bytes(hex: """
        02000000000202000000000108004500003c1234400040069c60c6120002c61200019c4000500102030400000000\
        a002faf03e0f0000020405b40402080a0001e2400000000001030307
        """)

    /// Ether/IP(id=7, DF)/TCP(80 -> 40000, seq=1000, ack=2000, PSH|ACK, window 502,
    /// options NOP NOP Timestamp(5, 6) NOP NOP SAck(3000-4000, 5000-6000))/"hello, world!".
    static let data = bytes(hex: """
        020000000001020000000002080045000055000740004006ae74c6120001c612000200509c40000003e8000007d0\
        d01801f6427300000101080a00000005000000060101051200000bb800000fa0000013880000177068656c6c6f2c\
        20776f726c6421
        """)

    /// Ether/IP(id=0xabcd, DF)/ICMP(echo request, id=0x1c2d, seq=3)/bytes 0x10...0x24.
    static let icmpEchoRequest = bytes(hex: """
        020000000002020000000001080045000031abcd4000400102d7c6120002c61200010800bcca1c2d000310111213\
        1415161718191a1b1c1d1e1f2021222324
        """)

    /// Ether(broadcast)/ARP(who-has 198.18.0.1 tell 198.18.0.2).
    static let arpRequest = bytes(hex: """
        ffffffffffff02000000000108060001080006040001020000000001c6120002000000000000c6120001
        """)

    /// IP(10.0.0.1 -> 10.0.0.2, tos 0xb9, id 99, ttl 3, options NOP NOP NOP EOL)/UDP(1 -> 2).
    static let ipv4WithOptions = bytes(hex: "46b900200063000003119fae0a0000010a00000201010100000100020008ebd8")

    /// IP(id 5, MF, offset 0, UDP)/16 bytes: the first fragment of a datagram.
    static let firstFragment = bytes(hex: "4500002400052000401146c20a0000010a00000278787878787878787878787878787878")

    /// IP(id 5, offset 2 (16 bytes), UDP)/8 bytes: the last fragment.
    static let lastFragment = bytes(hex: "4500001c00050002401166c80a0000010a0000027979797979797979")

    /// Ether/IP(id 0, DF)/TCP(80 -> 40000, seq=77, RST, window 0): 54 bytes, below
    /// Ethernet's 60-byte minimum, so a NIC pads it on the wire.
    static let reset = bytes(hex: """
        020000000001020000000002080045000028000040004006aea8c6120001c612000200509c400000004d00000000\
        5004000086db0000
        """)
}
