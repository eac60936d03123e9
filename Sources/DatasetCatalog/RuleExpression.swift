/// A boolean rule over attribute columns, as `curate tag --rule` takes it:
///
///     gender == female && (age_band in {40-59, 60+} || race != White)
///
/// Operators: `==`, `!=`, `<`, `<=`, `>`, `>=` (numeric when both sides are numbers; an order
/// against a number is unknown for a cell that is not one), `in {a, b}`,
/// `!`, `&&` / `and`, `||` / `or`, parentheses. Values are bare words or quoted strings.
/// A rule that depends on an unknown (empty) cell gives an unknown (empty) result.
public indirect enum RuleExpression: Sendable, Equatable {
    case compare(column: String, op: String, value: String)
    case member(column: String, values: [String])
    case not(RuleExpression)
    case and(RuleExpression, RuleExpression)
    case or(RuleExpression, RuleExpression)

    /// The columns the rule reads.
    public var columns: [String] {
        switch self {
        case .compare(let c, _, _), .member(let c, _): [c]
        case .not(let e): e.columns
        case .and(let a, let b), .or(let a, let b): a.columns + b.columns
        }
    }

    /// The columns the rule orders (`<`, `<=`, `>`, `>=`) against a number: their cells that are
    /// not numbers make those comparisons unknown.
    public var numericColumns: [String] {
        switch self {
        case .compare(let c, let op, let v): ["<", "<=", ">", ">="].contains(op) && Double(v) != nil ? [c] : []
        case .member: []
        case .not(let e): e.numericColumns
        case .and(let a, let b), .or(let a, let b): a.numericColumns + b.numericColumns
        }
    }

    /// Evaluates with three-valued (Kleene) logic: a comparison that reads an empty (unknown)
    /// cell is unknown (nil), unless it compares with the empty string itself; `false && unknown`
    /// is false and `true || unknown` is true.
    public func evaluate(_ value: (String) -> String) -> Bool? {
        switch self {
        case .compare(let c, let op, let v):
            let cell = value(c)
            if cell.isEmpty && !v.isEmpty { return nil }
            if let a = Double(cell), let b = Double(v) {
                switch op {
                case "==": return a == b
                case "!=": return a != b
                case "<": return a < b
                case "<=": return a <= b
                case ">": return a > b
                default: return a >= b
                }
            }
            // "abc" is neither below nor above 60: ordered against a number, text is unknown.
            if op != "==" && op != "!=" && Double(v) != nil { return nil }
            switch op {
            case "==": return cell == v
            case "!=": return cell != v
            case "<": return cell < v
            case "<=": return cell <= v
            case ">": return cell > v
            default: return cell >= v
            }
        case .member(let c, let values):
            let cell = value(c)
            if cell.isEmpty && !values.contains("") { return nil }
            return values.contains(cell)
        case .not(let e): return e.evaluate(value).map { !$0 }
        case .and(let a, let b):
            let x = a.evaluate(value), y = b.evaluate(value)
            if x == false || y == false { return false }
            return x == nil || y == nil ? nil : true
        case .or(let a, let b):
            let x = a.evaluate(value), y = b.evaluate(value)
            if x == true || y == true { return true }
            return x == nil || y == nil ? nil : false
        }
    }

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    /// Parses a rule; the error says what was expected where.
    /// Rules are evaluated by recursion over their tree: these bounds keep its depth small.
    static let maxTokens = 4096, maxNesting = 64

    public static func parse(_ text: String) throws -> RuleExpression {
        let tokens = try tokenize(text)
        guard tokens.count <= maxTokens else {
            throw ParseError(message: "rule of \(tokens.count) tokens is over the limit of \(maxTokens): '\(text.prefix(60))...'")
        }
        var p = Parser(tokens: tokens, text: text)
        let e = try p.orExpr()
        guard p.pos == p.tokens.count else { throw ParseError(message: "unexpected '\(p.tokens[p.pos])' in rule '\(text)'") }
        return e
    }

    static func tokenize(_ text: String) throws -> [String] {
        var out: [String] = []
        let s = Array(text)
        var i = 0
        let wordChars: (Character) -> Bool = { $0.isLetter || $0.isNumber || "_-.+/:%".contains($0) }
        while i < s.count {
            let c = s[i]
            if c.isWhitespace { i += 1; continue }
            if "(){},".contains(c) { out.append(String(c)); i += 1; continue }
            if i + 1 < s.count, ["==", "!=", "<=", ">=", "&&", "||"].contains(String(s[i...i + 1])) { out.append(String(s[i...i + 1])); i += 2; continue }
            if "<>!".contains(c) { out.append(String(c)); i += 1; continue }
            if c == "\"" || c == "'" {
                var j = i + 1
                var word = ""
                while j < s.count && s[j] != c { word.append(s[j]); j += 1 }
                guard j < s.count else { throw ParseError(message: "unterminated quote in rule '\(text)'") }
                out.append("\u{1}" + word)  // marks a quoted value
                i = j + 1
                continue
            }
            if wordChars(c) {
                var j = i
                while j < s.count && wordChars(s[j]) { j += 1 }
                out.append(String(s[i..<j]))
                i = j
                continue
            }
            throw ParseError(message: "unexpected character '\(c)' in rule '\(text)'")
        }
        return out
    }

    struct Parser {
        var tokens: [String]
        var text: String
        var pos = 0
        var nesting = 0
        mutating func enter() throws {
            nesting += 1
            guard nesting <= RuleExpression.maxNesting else {
                throw ParseError(message: "rule nests parentheses and negations more than \(RuleExpression.maxNesting) deep: '\(text.prefix(60))...'")
            }
        }

        mutating func peek() -> String? { pos < tokens.count ? tokens[pos] : nil }
        mutating func take() throws -> String {
            guard pos < tokens.count else { throw ParseError(message: "rule '\(text)' ends too early") }
            pos += 1
            return tokens[pos - 1]
        }
        func value(_ t: String) -> String { t.hasPrefix("\u{1}") ? String(t.dropFirst()) : t }

        mutating func orExpr() throws -> RuleExpression {
            var e = try andExpr()
            while let t = peek(), t == "||" || t == "or" { pos += 1; e = .or(e, try andExpr()) }
            return e
        }
        mutating func andExpr() throws -> RuleExpression {
            var e = try notExpr()
            while let t = peek(), t == "&&" || t == "and" { pos += 1; e = .and(e, try notExpr()) }
            return e
        }
        mutating func notExpr() throws -> RuleExpression {
            if let t = peek(), t == "!" || t == "not" {
                pos += 1
                try enter()
                defer { nesting -= 1 }
                return .not(try notExpr())
            }
            return try primary()
        }
        mutating func primary() throws -> RuleExpression {
            let t = try take()
            if t == "(" {
                try enter()
                defer { nesting -= 1 }
                let e = try orExpr()
                guard try take() == ")" else { throw ParseError(message: "expected ')' in rule '\(text)'") }
                return e
            }
            guard !t.hasPrefix("\u{1}"), !"(){},<>!".contains(t.first!), !["==", "!=", "<=", ">=", "&&", "||"].contains(t) else {
                throw ParseError(message: "expected a column name, found '\(value(t))' in rule '\(text)'")
            }
            let op = try take()
            if op == "in" {
                guard try take() == "{" else { throw ParseError(message: "expected '{' after 'in' in rule '\(text)'") }
                var values: [String] = []
                while true {
                    values.append(value(try take()))
                    let sep = try take()
                    if sep == "}" { break }
                    guard sep == "," else { throw ParseError(message: "expected ',' or '}' in rule '\(text)'") }
                }
                return .member(column: t, values: values)
            }
            guard ["==", "!=", "<", "<=", ">", ">="].contains(op) else {
                throw ParseError(message: "expected a comparison after '\(t)', found '\(value(op))' in rule '\(text)'")
            }
            return .compare(column: t, op: op, value: value(try take()))
        }
    }
}
