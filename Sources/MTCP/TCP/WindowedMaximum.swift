/// The largest value seen over the last `window` rounds: BBR's bottleneck
/// bandwidth filter, kept in three estimates instead of one slot per round
/// (Kathleen Nichols' windowed min/max algorithm, as BBR's authors use it):
/// the best value of the window, and the best of its later quarter and half,
/// which take over as older ones age out. Exact when samples only fall; an
/// approximation otherwise, within the window's value range.
struct WindowedMaximum: Sendable {
    static let window = 10
    private var values: (Double, Double, Double) = (0, 0, 0)
    private var rounds: (Int, Int, Int) = (0, 0, 0)

    /// The largest value of the current window.
    var maximum: Double { values.0 }

    /// A sample taken in round `round` (rounds only move forward).
    @inline(__always)
    mutating func update(_ value: Double, round: Int) {
        // A new best, or nothing in the window any more: it is all three.
        if value >= values.0 || round - rounds.2 >= Self.window {
            values = (value, value, value)
            rounds = (round, round, round)
            return
        }
        if value >= values.1 {
            values.1 = value
            values.2 = value
            rounds.1 = round
            rounds.2 = round
        } else if value >= values.2 {
            values.2 = value
            rounds.2 = round
        }
        let age = round - rounds.0
        if age >= Self.window {
            // The best aged out: the later estimates move up.
            values = (values.1, values.2, value)
            rounds = (rounds.1, rounds.2, round)
            if round - rounds.0 >= Self.window {
                values = (values.1, values.2, value)
                rounds = (rounds.1, rounds.2, round)
            }
        } else if rounds.1 == rounds.0 && age > Self.window / 4 {
            // A quarter of the window passed with one estimate: take a second from here.
            values.1 = value
            values.2 = value
            rounds.1 = round
            rounds.2 = round
        } else if rounds.2 == rounds.1 && age > Self.window / 2 {
            values.2 = value
            rounds.2 = round
        }
    }
}
