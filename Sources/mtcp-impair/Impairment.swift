/// The forwarder's per-frame decision, separate from any I/O so it can be tested:
/// for every frame, in arrival order, a seeded generator decides whether it is
/// lost, duplicated and/or held back so that later frames overtake it. Two runs
/// with the same seed and the same arrival order make the same decisions.
struct Impairment: Sendable {
    struct Settings: Sendable, Equatable {
        /// Probability that a frame is dropped.
        var loss: Double = 0
        /// Probability that a (forwarded) frame is held back by `reorderDelay` on top
        /// of `delay`, so that frames behind it overtake it.
        var reorder: Double = 0
        /// Probability that a forwarded frame is sent twice.
        var duplicate: Double = 0
        /// Every frame waits this long (one-way delay), in nanoseconds.
        var delay: UInt64 = 0
        /// Extra wait of a reordered frame, in nanoseconds.
        var reorderDelay: UInt64 = 10_000_000
    }

    /// What happens to one frame.
    struct Decision: Sendable, Equatable {
        /// 0 (lost), 1, or 2 (duplicated).
        var copies: Int
        /// Nanoseconds from arrival to sending (both copies).
        var wait: UInt64
        var reordered: Bool
    }

    let settings: Settings
    private var random: SplitMix64

    init(settings: Settings, seed: UInt64) {
        self.settings = settings
        self.random = SplitMix64(seed: seed)
    }

    /// Draws the fate of the next frame. Always three draws per frame, so the
    /// sequence of decisions for one setting does not depend on earlier outcomes.
    mutating func decide() -> Decision {
        let lost = random.nextUnit() < settings.loss
        let reordered = random.nextUnit() < settings.reorder
        let duplicated = random.nextUnit() < settings.duplicate
        if lost { return Decision(copies: 0, wait: 0, reordered: false) }
        return Decision(copies: duplicated ? 2 : 1,
                        wait: settings.delay + (reordered ? settings.reorderDelay : 0),
                        reordered: reordered)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and fully determined by its seed.
struct SplitMix64: Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits.
    mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}
