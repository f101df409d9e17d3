/// HTTP-date (RFC 9110 §5.6.7): IMF-fixdate formatting, and parsing of the three
/// formats a recipient must accept, over raw bytes and without the C library's
/// locale- and time-zone-dependent functions.
public enum HTTPDate {
    /// Bytes of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static let length = 29

    private static let dayNames: StaticString = "SunMonTueWedThuFriSat"
    private static let monthNames: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    /// Writes the IMF-fixdate of `unixTime` (seconds since 1970, UTC) as exactly
    /// `length` bytes at `output`. Times before 1970 are written as 1970-01-01.
    public static func format(_ unixTime: Int64, into output: UnsafeMutableRawPointer) {
        let time = max(unixTime, 0)
        let days = time / 86400
        let secondOfDay = Int(time % 86400)
        let (year, month, day) = civilDate(days: days)
        let weekday = Int((days + 4) % 7)  // 1970-01-01 was a Thursday
        let out = output.assumingMemoryBound(to: UInt8.self)
        copy3(dayNames, weekday, to: out)
        out[3] = ASCII.comma
        out[4] = ASCII.space
        write2(day, to: out + 5)
        out[7] = ASCII.space
        copy3(monthNames, month - 1, to: out + 8)
        out[11] = ASCII.space
        write2(Int(year / 100 % 100), to: out + 12)
        write2(Int(year % 100), to: out + 14)
        out[16] = ASCII.space
        write2(secondOfDay / 3600, to: out + 17)
        out[19] = ASCII.colon
        write2(secondOfDay / 60 % 60, to: out + 20)
        out[22] = ASCII.colon
        write2(secondOfDay % 60, to: out + 23)
        out[25] = ASCII.space
        out[26] = UInt8(ascii: "G")
        out[27] = UInt8(ascii: "M")
        out[28] = UInt8(ascii: "T")
    }

    /// Parses an IMF-fixdate, an obsolete RFC 850 date or an asctime date (RFC 9110
    /// §5.6.7) into seconds since 1970; nil when `bytes` is none of them. `now` is
    /// needed for RFC 850's two-digit years: one more than 50 years ahead of `now`
    /// is in the previous century, as §5.6.7 requires.
    public static func parse(_ bytes: UnsafeRawBufferPointer, now: Int64) -> Int64? {
        var cursor = Cursor(bytes: bytes)
        guard cursor.dayName() else { return nil }
        if cursor.skip(ASCII.comma) {
            guard cursor.skip(ASCII.space), let day = cursor.digits(2) else { return nil }
            if cursor.skip(ASCII.space) {
                // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
                guard let month = cursor.month(), cursor.skip(ASCII.space), let year = cursor.digits(4),
                      cursor.skip(ASCII.space), let time = cursor.time(), cursor.gmtAtEnd()
                else { return nil }
                return timestamp(year: year, month: month, day: day, secondOfDay: time)
            }
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (the long day name was consumed).
            guard cursor.skip(UInt8(ascii: "-")), let month = cursor.month(), cursor.skip(UInt8(ascii: "-")),
                  let shortYear = cursor.digits(2), cursor.skip(ASCII.space), let time = cursor.time(),
                  cursor.gmtAtEnd()
            else { return nil }
            let currentYear = Int(civilDate(days: max(now, 0) / 86400).year)
            var year = currentYear - currentYear % 100 + shortYear
            if year > currentYear + 50 { year -= 100 }
            return timestamp(year: year, month: month, day: day, secondOfDay: time)
        }
        // asctime: Sun Nov  6 08:49:37 1994
        guard cursor.skip(ASCII.space), let month = cursor.month(), cursor.skip(ASCII.space) else { return nil }
        let day: Int
        if cursor.skip(ASCII.space) {
            guard let digit = cursor.digits(1) else { return nil }
            day = digit
        } else {
            guard let digits = cursor.digits(2) else { return nil }
            day = digits
        }
        guard cursor.skip(ASCII.space), let time = cursor.time(), cursor.skip(ASCII.space),
              let year = cursor.digits(4), cursor.atEnd
        else { return nil }
        return timestamp(year: year, month: month, day: day, secondOfDay: time)
    }

    /// Seconds since 1970 of a calendar date, or nil for an impossible one.
    private static func timestamp(year: Int, month: Int, day: Int, secondOfDay: Int) -> Int64? {
        guard year >= 1970, day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        return civilDays(year: Int64(year), month: month, day: day) * 86400 + Int64(secondOfDay)
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Proleptic Gregorian date of a day count since 1970-01-01. Years are counted
    /// from March (so the leap day ends a year) in 400-year eras of 146097 days.
    static func civilDate(days: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = days + 719_468  // days from 0000-03-01 to 1970-01-01
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let marchMonth = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * marchMonth + 2) / 5 + 1)
        let month = Int(marchMonth < 10 ? marchMonth + 3 : marchMonth - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Day count since 1970-01-01 of a date: the inverse of `civilDate`.
    static func civilDays(year: Int64, month: Int, day: Int) -> Int64 {
        let marchYear = month <= 2 ? year - 1 : year
        let era = (marchYear >= 0 ? marchYear : marchYear - 399) / 400
        let yearOfEra = marchYear - era * 400
        let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func copy3(_ names: StaticString, _ index: Int, to out: UnsafeMutablePointer<UInt8>) {
        let start = names.utf8Start + 3 * index
        out[0] = start[0]
        out[1] = start[1]
        out[2] = start[2]
    }

    private static func write2(_ value: Int, to out: UnsafeMutablePointer<UInt8>) {
        out[0] = UInt8(48 + value / 10)
        out[1] = UInt8(48 + value % 10)
    }

    /// A reader over the date's bytes that fails softly (nil/false) on any mismatch.
    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        var atEnd: Bool { index == bytes.count }

        mutating func skip(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for offset in 0..<count {
                let byte = bytes[index + offset]
                guard ASCII.isDigit(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += count
            return value
        }

        /// A three-letter name from `names` (case-sensitive, RFC 9110 §5.6.7); its index.
        mutating func name(in names: StaticString) -> Int? {
            guard index + 3 <= bytes.count else { return nil }
            let table = names.utf8Start
            for entry in 0..<(names.utf8CodeUnitCount / 3)
            where table[3 * entry] == bytes[index] && table[3 * entry + 1] == bytes[index + 1]
                && table[3 * entry + 2] == bytes[index + 2] {
                index += 3
                return entry
            }
            return nil
        }

        /// A day name: three letters, optionally followed by the rest of the long name
        /// that RFC 850 uses ("Sunday").
        mutating func dayName() -> Bool {
            guard let day = name(in: HTTPDate.dayNames) else { return false }
            let rest: StaticString = switch day {
            case 0: "day"; case 1: "day"; case 2: "sday"; case 3: "nesday"; case 4: "rsday"; case 5: "day"
            default: "urday"
            }
            let end = index + rest.utf8CodeUnitCount
            guard end < bytes.count, bytes[end] == ASCII.comma else { return true }
            for offset in 0..<rest.utf8CodeUnitCount where bytes[index + offset] != rest.utf8Start[offset] {
                return true  // not the long name: the short one stands, the caller sees what follows
            }
            index = end
            return true
        }

        /// A month name; its number, 1...12.
        mutating func month() -> Int? { name(in: HTTPDate.monthNames).map { $0 + 1 } }

        /// hour ":" minute ":" second, as seconds of the day (a leap second reads as 59).
        mutating func time() -> Int? {
            guard let hour = digits(2), skip(ASCII.colon), let minute = digits(2), skip(ASCII.colon),
                  let second = digits(2), hour < 24, minute < 60, second <= 60
            else { return nil }
            return hour * 3600 + minute * 60 + min(second, 59)
        }

        mutating func gmtAtEnd() -> Bool {
            guard index + 4 == bytes.count else { return false }
            return bytes[index] == ASCII.space && bytes[index + 1] == 71 && bytes[index + 2] == 77 && bytes[index + 3] == 84
        }
    }
}

/// The current date, formatted once per second for every response of a core.
///
/// A core asks for the date thousands of times per second; formatting it each time
/// would waste work, so the clock keeps the 29 bytes and reformats only when the
/// second changes. The caller passes the time in (the engine's loop reads the clock
/// once per iteration), so tests drive it explicitly.
public struct HTTPDateClock: Sendable {
    /// The second the bytes show.
    public private(set) var second: Int64
    // 32 bytes of inline storage: no allocation, copyable with the struct.
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// A clock showing `now` (seconds since 1970).
    public init(now: Int64) {
        second = now
        withUnsafeMutableBytes(of: &storage) { HTTPDate.format(now, into: $0.baseAddress!) }
    }

    /// Moves the clock to `now`; returns whether the second changed (and so whether
    /// pre-built responses need their Date patched).
    @discardableResult
    public mutating func update(now: Int64) -> Bool {
        guard now != second else { return false }
        second = now
        withUnsafeMutableBytes(of: &storage) { HTTPDate.format(now, into: $0.baseAddress!) }
        return true
    }

    /// Calls `body` with the 29 bytes of the current IMF-fixdate.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(of: storage) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<HTTPDate.length])) }
    }
}
