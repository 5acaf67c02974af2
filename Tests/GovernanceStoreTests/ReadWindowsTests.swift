@testable import GovernanceStore
import Rules
import Testing

/// The in-memory read and gateway windows: exact counts within a minute for any number of actors,
/// and only the current and previous minutes kept.
@Suite struct ReadWindowsTests {
    /// Actors are told apart by their ids' bytes, as the stores tell keys apart: "K" and the
    /// Kelvin sign (equal as Swift strings) are two actors with a window each.
    @Test func actorsWhoseIdsDifferOnlyInNormalisationHaveTheirOwnWindows() {
        let windows = ReadWindows()
        let (letter, kelvin) = ("user-K", "user-\u{212A}")
        #expect(letter == kelvin && Array(letter.utf8) != Array(kelvin.utf8))
        for _ in 0..<3 { windows.hit(RateWindow(actorId: letter, bucket: .read, minute: 1)) }
        windows.hit(RateWindow(actorId: kelvin, bucket: .read, minute: 1))
        #expect(windows.count(RateWindow(actorId: letter, bucket: .read, minute: 1)) == 3)
        #expect(windows.count(RateWindow(actorId: kelvin, bucket: .read, minute: 1)) == 1)
        #expect(windows.windowCount == 2)
    }

    @Test func countsStayExactForManyActorsAndOldMinutesGo() {
        let windows = ReadWindows()
        let minute: Int64 = 29_000_000
        let actors = (0..<5_000).map { "actor-\($0)" }
        for actor in actors {
            for bucket in [RateWindow.Bucket.gatewayRead, .gatewayMutate] {
                windows.hit(RateWindow(actorId: actor, bucket: bucket, minute: minute))
            }
        }
        windows.hit(RateWindow(actorId: "actor-7", bucket: .gatewayRead, minute: minute))
        #expect(windows.windowCount == 10_000)
        #expect(windows.count(RateWindow(actorId: "actor-7", bucket: .gatewayRead, minute: minute)) == 2)
        #expect(windows.count(RateWindow(actorId: "actor-4999", bucket: .gatewayMutate, minute: minute)) == 1)

        // The next minute keeps the previous one (a request may still be counted in it).
        windows.hit(RateWindow(actorId: "actor-1", bucket: .read, minute: minute + 1))
        windows.hit(RateWindow(actorId: "actor-2", bucket: .gatewayRead, minute: minute))
        #expect(windows.windowCount == 10_001)
        #expect(windows.count(RateWindow(actorId: "actor-2", bucket: .gatewayRead, minute: minute)) == 2)

        // The one after drops it.
        windows.hit(RateWindow(actorId: "actor-1", bucket: .read, minute: minute + 2))
        #expect(windows.windowCount == 2)
        #expect(windows.count(RateWindow(actorId: "actor-7", bucket: .gatewayRead, minute: minute)) == 0)
        #expect(windows.count(RateWindow(actorId: "actor-1", bucket: .read, minute: minute + 1)) == 1)
        #expect(windows.count(RateWindow(actorId: "actor-1", bucket: .read, minute: minute + 2)) == 1)
    }

    /// A clock stepped back starts the windows over from the earlier minute instead of keeping
    /// every window until it catches up.
    @Test func aClockSteppedBackStillPrunes() {
        let windows = ReadWindows()
        let minute: Int64 = 29_000_000
        for actor in 0..<100 { windows.hit(RateWindow(actorId: "a\(actor)", bucket: .read, minute: minute)) }
        windows.hit(RateWindow(actorId: "late", bucket: .read, minute: minute - 1))
        #expect(windows.windowCount == 101)
        windows.hit(RateWindow(actorId: "stepped", bucket: .read, minute: minute - 10))
        windows.hit(RateWindow(actorId: "stepped", bucket: .read, minute: minute - 8))
        #expect(windows.windowCount == 1)
        #expect(windows.count(RateWindow(actorId: "stepped", bucket: .read, minute: minute - 8)) == 1)
    }
}
