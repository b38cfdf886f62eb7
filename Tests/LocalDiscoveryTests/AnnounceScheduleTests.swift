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

    /// A late tick collapses the startup repeats it missed into one announcement.
    @Test func lateTickSendsOnce() {
        var schedule = AnnounceSchedule()
        schedule.add(Self.a, now: 0)
        #expect(schedule.takeDue(now: 0) == [Self.a])
        #expect(schedule.takeDue(now: 7) == [Self.a])
        #expect(schedule.takeDue(now: 8) == [])
        #expect(schedule.takeDue(now: 306) == [])
        #expect(schedule.takeDue(now: 307) == [Self.a])
    }

    /// 30 torrents added at once, 2 a tick: no tick takes more; every torrent's first announcement comes before any
    /// torrent's repeat (announced longest ago first), all within 7 s; a torrent's repeats count from its first, and
    /// its +2 s and +6 s repeats, held back past +6 s by the others' turns, collapse into one: two announcements
    /// each, at least 2 s apart, all within 15 s; then each waits the interval.
    @Test func atMostTwoATickThoseAnnouncedLongestAgoFirst() {
        let hashes = (0..<30).map { InfoHash([UInt8](repeating: UInt8($0 + 10), count: 20))! }
        var schedule = AnnounceSchedule()
        for hash in hashes { schedule.add(hash, now: 0) }
        var times: [InfoHash: [Double]] = [:]
        var order: [InfoHash] = []
        for tick in 0...600 {
            let now = Double(tick) * 0.5
            let due = schedule.takeDue(now: now)
            #expect(due.count <= 2, "\(due.count) at \(now)")
            for hash in due {
                times[hash, default: []].append(now)
                order.append(hash)
            }
        }
        #expect(Set(order.prefix(30)) == Set(hashes), "the first 30 taken are every torrent once")
        #expect(order.count == 60 && times.values.allSatisfy { $0.last ?? .infinity <= 15 }, "\(times.values)")
        #expect(hashes.allSatisfy { times[$0]?.first ?? .infinity <= 7 }, "\(times.values.map { $0.first ?? -1 })")
        for hash in hashes {
            let sent = times[hash] ?? []
            #expect(sent.count == 2 && sent[1] - sent[0] >= 2, "\(sent)")
        }
        #expect(schedule.takeDue(now: 301).isEmpty)
    }
}
