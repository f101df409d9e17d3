import Testing

@testable import mtcp_impair

/// The forwarder's decisions: seeded, deterministic, at the configured rates.
@Suite struct ImpairmentTests {
    static let settings = Impairment.Settings(loss: 0.05, reorder: 0.01, duplicate: 0.02, delay: 5_000_000,
                                              reorderDelay: 10_000_000)

    private func decisions(_ settings: Impairment.Settings, seed: UInt64, count: Int) -> [Impairment.Decision] {
        var impairment = Impairment(settings: settings, seed: seed)
        return (0..<count).map { _ in impairment.decide() }
    }

    @Test func sameSeedSameDecisions() {
        #expect(decisions(Self.settings, seed: 7, count: 5000) == decisions(Self.settings, seed: 7, count: 5000))
    }

    @Test func otherSeedOtherDecisions() {
        #expect(decisions(Self.settings, seed: 7, count: 5000) != decisions(Self.settings, seed: 8, count: 5000))
    }

    @Test func noImpairmentForwardsEveryFrameOnceAfterTheDelay() {
        let clean = Impairment.Settings(delay: 3_000_000)
        #expect(decisions(clean, seed: 1, count: 10_000).allSatisfy {
            $0 == Impairment.Decision(copies: 1, wait: 3_000_000, reordered: false)
        })
    }

    @Test func totalLossDropsEverything() {
        #expect(decisions(Impairment.Settings(loss: 1, duplicate: 1), seed: 1, count: 1000).allSatisfy { $0.copies == 0 })
    }

    @Test(arguments: [0.01, 0.05, 0.10])
    func ratesAreWhatWasAskedFor(loss: Double) {
        let count = 200_000
        var settings = Self.settings
        settings.loss = loss
        let all = decisions(settings, seed: 42, count: count)
        let lost = Double(all.filter { $0.copies == 0 }.count) / Double(count)
        let forwarded = all.filter { $0.copies > 0 }
        let duplicated = Double(forwarded.filter { $0.copies == 2 }.count) / Double(forwarded.count)
        let reordered = Double(forwarded.filter(\.reordered).count) / Double(forwarded.count)
        // Binomial standard deviations are below 0.0007 here: 5 of them as tolerance.
        #expect(abs(lost - loss) < 0.0035)
        #expect(abs(duplicated - 0.02) < 0.0035)
        #expect(abs(reordered - 0.01) < 0.0035)
        #expect(forwarded.allSatisfy { $0.wait == ($0.reordered ? 15_000_000 : 5_000_000) })
    }

    @Test func decisionsOfOneSettingDoNotDependOnEarlierOutcomes() {
        // Three draws per frame whatever happens: the n-th frame's loss draw is the
        // same with or without duplication configured.
        let a = decisions(Impairment.Settings(loss: 0.3), seed: 9, count: 2000).map { $0.copies == 0 }
        let b = decisions(Impairment.Settings(loss: 0.3, duplicate: 0.5), seed: 9, count: 2000).map { $0.copies == 0 }
        #expect(a == b)
    }
}
