/// A node-wide budget (connections, bytes of buffers) that several sessions draw from, shared fairly: no session
/// is starved by another, and none is held back by sessions that do not use the budget.
///
/// Shares are counted among the **active** members, those holding part of the budget: a session's fair share is
/// `limit / active members` (itself included). A member holding nothing may take while the budget has room (so a
/// newcomer, or a piece longer than a share, always gets its first item). A member below its share may take while
/// the budget has room; a member at or above its share only what leaves the other active members' unused shares
/// free. Idle members reserve nothing, so one busy torrent among hundreds of idle ones may use the whole budget.
/// When the budget is full and a member below its share needs more, members over their share give back what
/// ``excess(of:sharingWith:)`` says (the host asks sessions to drop cached buffers).
struct SharedBudget: Sendable, Hashable {
    let limit: Int
    private(set) var total = 0
    private var used: [Int: Int] = [:]
    /// Members holding more than nothing.
    private var activeCount = 0

    init(limit: Int) {
        self.limit = limit
    }

    /// Members: sessions that joined (or took part of this budget) and have not left.
    var memberCount: Int { used.count }

    /// Members holding more than nothing.
    var activeMembers: Int { activeCount }

    /// What `member` holds.
    func used(by member: Int) -> Int { used[member, default: 0] }

    /// `member`'s fair share: the limit divided by the active members, `member` counted.
    func share(for member: Int) -> Int {
        limit / max(1, activeCount + (used(by: member) > 0 ? 0 : 1))
    }

    /// What `member` holds above the fair share it would have with `asker` active.
    func excess(of member: Int, sharingWith asker: Int) -> Int {
        max(0, used(by: member) - share(for: asker))
    }

    /// Adds a member without giving it anything.
    mutating func join(_ member: Int) {
        if used[member] == nil { used[member] = 0 }
    }

    /// Removes a member and frees everything it held.
    mutating func leave(_ member: Int) {
        guard let mine = used.removeValue(forKey: member) else { return }
        total -= mine
        if mine > 0 { activeCount -= 1 }
    }

    /// Whether `member` may take `amount` now.
    func allows(_ amount: Int, for member: Int) -> Bool {
        guard total + amount <= limit else { return false }
        let mine = used(by: member)
        if mine == 0 { return true }
        let share = self.share(for: member)
        if mine + amount <= share { return true }
        return total + amount + reserved(share: share, except: member) <= limit
    }

    /// The most `member` may take now (what ``allows(_:for:)`` accepts).
    func room(for member: Int) -> Int {
        let free = limit - total
        guard free > 0 else { return 0 }
        let mine = used(by: member)
        if mine == 0 { return free }
        let share = self.share(for: member)
        return max(0, min(free, share - mine), free - reserved(share: share, except: member))
    }

    /// The unused shares of the active members other than `member`.
    private func reserved(share: Int, except member: Int) -> Int {
        used.reduce(0) { sum, entry in
            entry.key == member || entry.value == 0 ? sum : sum + max(0, share - entry.value)
        }
    }

    /// Takes `amount` for `member` (joining it) when ``allows(_:for:)``; false otherwise.
    mutating func take(_ amount: Int, for member: Int) -> Bool {
        guard allows(amount, for: member) else { return false }
        charge(amount, to: member)
        return true
    }

    /// Takes `amount` for `member` whatever the budget allows (what has already happened, such as bytes that
    /// arrived and must be written); ``allows(_:for:)`` then refuses more until enough is given back.
    mutating func charge(_ amount: Int, to member: Int) {
        guard amount > 0 else { return join(member) }
        let mine = used(by: member)
        if mine == 0 { activeCount += 1 }
        used[member] = mine + amount
        total += amount
    }

    /// Gives back `amount` that `member` took.
    mutating func give(_ amount: Int, by member: Int) {
        guard let mine = used[member], mine > 0 else { return }
        let returned = min(amount, mine)
        used[member] = mine - returned
        total -= returned
        if returned == mine { activeCount -= 1 }
    }
}
