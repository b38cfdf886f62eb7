/// A node-wide budget (connections, bytes of buffers) that several sessions draw from, shared fairly: no session
/// is starved by another.
///
/// Each member's fair share is `limit / members`. A member below its share may take while the budget has room; a
/// member at or above its share may take only what leaves the other members' unused shares free. A member that
/// holds nothing may always take one item while the budget has room (so a piece longer than a share still gets a
/// buffer). A member over its share gives back when asked (``excess(of:)``; the host asks it to drop cached
/// buffers) so that a newcomer soon reaches its share.
struct SharedBudget: Sendable, Hashable {
    let limit: Int
    private(set) var total = 0
    private var used: [Int: Int] = [:]

    init(limit: Int) {
        self.limit = limit
    }

    /// Members: sessions that took part of this budget since they joined.
    var memberCount: Int { used.count }

    /// `limit / members` (the whole limit with one member or none).
    var fairShare: Int { used.count <= 1 ? limit : limit / used.count }

    /// What `member` holds.
    func used(by member: Int) -> Int { used[member, default: 0] }

    /// What `member` holds above its fair share.
    func excess(of member: Int) -> Int { max(0, used(by: member) - fairShare) }

    /// Adds a member (it counts for the fair shares from now on).
    mutating func join(_ member: Int) {
        if used[member] == nil { used[member] = 0 }
    }

    /// Removes a member and frees everything it held.
    mutating func leave(_ member: Int) {
        total -= used.removeValue(forKey: member) ?? 0
    }

    /// Whether `member` may take `amount` now.
    func allows(_ amount: Int, for member: Int) -> Bool {
        guard total + amount <= limit else { return false }
        let mine = used[member, default: 0]
        let share = used[member] == nil ? limit / (used.count + 1) : fairShare
        if mine == 0 || mine + amount <= share { return true }
        let reserved = used.reduce(0) { sum, entry in
            entry.key == member ? sum : sum + max(0, share - entry.value)
        }
        return total + amount + reserved <= limit
    }

    /// The most `member` may take now (what ``allows(_:for:)`` accepts).
    func room(for member: Int) -> Int {
        let free = limit - total
        guard free > 0 else { return 0 }
        let mine = used[member, default: 0]
        if mine == 0 { return free }
        let share = fairShare
        let reserved = used.reduce(0) { sum, entry in
            entry.key == member ? sum : sum + max(0, share - entry.value)
        }
        return max(0, min(free, share - mine), free - reserved)
    }

    /// Takes `amount` for `member` (joining it) when ``allows(_:for:)``; false otherwise.
    mutating func take(_ amount: Int, for member: Int) -> Bool {
        guard allows(amount, for: member) else { return false }
        used[member, default: 0] += amount
        total += amount
        return true
    }

    /// Takes `amount` for `member` whatever the budget allows (what has already happened, such as bytes that
    /// arrived and must be written); ``allows(_:for:)`` then refuses more until enough is given back.
    mutating func charge(_ amount: Int, to member: Int) {
        used[member, default: 0] += amount
        total += amount
    }

    /// Gives back `amount` that `member` took.
    mutating func give(_ amount: Int, by member: Int) {
        guard let mine = used[member] else { return }
        let returned = min(amount, mine)
        used[member] = mine - returned
        total -= returned
    }
}
