import LocalDiscovery
import SwarmPrimitives
import Testing

@Suite struct AnnounceScheduleTests {
    static let a = InfoHash([UInt8](repeating: 1, count: 20))!
    static let b = InfoHash([UInt8](repeating: 2, count: 20))!

    /// The announcement times of one torrent added at 0, ticking every half second for `until` seconds.
    static func times(_ schedule: AnnounceSchedule, until: Double) -> [Double] {
        var schedule = schedule
        schedule.add(a, now: 0)
        var result: [Double] = []
        var now = 0.0
        while now <= until {
            if !schedule.takeDue(now: now).isEmpty { result.append(now) }
            now += 0.5
        }
        return result
    }

    @Test func announcesAtOnceThenTwoAndSixSecondsThenEveryFiveMinutes() {
        #expect(Self.times(AnnounceSchedule(), until: 1000) == [0, 2, 6, 306, 606, 906])
    }

    /// Never more than once a minute outside the startup repeats, whatever interval is configured.
    @Test func minimumGapHoldsForAnyInterval() {
        let times = Self.times(AnnounceSchedule(interval: 10, minimumGap: 60), until: 400)
        let regular = times.dropFirst(3)
        #expect(zip(regular, regular.dropFirst()).allSatisfy { $1 - $0 >= 60 })
        #expect(times.prefix(3) == [0, 2, 6])
    }

    /// A torrent added late joins the next datagram of the ones due; removed ones stop at once.
    @Test func torrentsShareDatagramsAndLeave() {
        var schedule = AnnounceSchedule()
        schedule.add(Self.a, now: 0)
        #expect(schedule.takeDue(now: 0) == [Self.a])
        schedule.add(Self.b, now: 1.5)
        #expect(schedule.takeDue(now: 2) == [Self.a, Self.b])
        schedule.remove(Self.a)
        #expect(schedule.infoHashes == [Self.b])
        #expect(schedule.takeDue(now: 4) == [Self.b])
        #expect(schedule.takeDue(now: 6) == [])
        #expect(schedule.takeDue(now: 8) == [Self.b])
        // A second add of a scheduled torrent keeps its schedule.
        schedule.add(Self.b, now: 9)
        #expect(schedule.takeDue(now: 9) == [])
    }

    /// A late tick collapses the startup offsets it missed into one announcement.
    @Test func lateTickSendsOnce() {
        var schedule = AnnounceSchedule()
        schedule.add(Self.a, now: 0)
        #expect(schedule.takeDue(now: 7) == [Self.a])
        #expect(schedule.takeDue(now: 8) == [])
        #expect(schedule.takeDue(now: 306) == [])
        #expect(schedule.takeDue(now: 307) == [Self.a])
    }
}
