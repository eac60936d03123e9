import DatasetCatalog
import Foundation
import ImageCodecs
import Testing

@Suite("Tagging")
struct TaggingTests {
    func manifest(_ rows: [[String]], columns: [String]) -> Manifest {
        var m = Manifest(columns: columns, baseDirectory: "/data")
        for r in rows { m.append(cells: r) }
        return m
    }

    @Test("regex named captures over the path become columns; non-matching rows are reported")
    func regex() throws {
        let m = manifest([["faces/female/asian/1.jpg"], ["faces/male/white/2.jpg"], ["other/3.jpg"]], columns: ["path"])
        let (out, problems) = try Tagger().apply([.pathRegex("faces/(?<gender>[^/]+)/(?<race>[^/]+)/")], to: m)
        #expect(out.column("gender")! == ["female", "male", ""] && out.column("race")! == ["asian", "white", ""])
        #expect(problems == ["--regex: 1 path(s) do not match; their columns are empty"])
        #expect(throws: TagError.self) { try Tagger().apply([.pathRegex("(unclosed")], to: m) }
    }

    @Test("map, bins, combine and rule, parsed from their command-line forms")
    func derived() throws {
        let m = manifest([["a", "0", "19", "1"], ["b", "1", "19.5", "0"], ["c", "1", "20", "4"], ["d", "0", "75", "2"], ["e", "1", "", "3"], ["f", "0", "-1", "1"]],
                         columns: ["path", "gender", "age", "race"])
        let ops = try [
            TagOperation.parseMap("gender=gender:0=male,1=female"),
            TagOperation.parseMap("race=race:0=White,1=Black,2=Asian,3=Indian,4=Others"),
            TagOperation.parseBins("age_band=age:0-19,20-39,40-59,60+"),
            TagOperation.parseCombine("gender_race=gender+race"),
            TagOperation.parseRule("older_woman=gender == female && age_band in {40-59, 60+} || race == 'Others'"),
            TagOperation.parseRule("adult=!(age < 18)"),
        ]
        let (out, problems) = try Tagger().apply(ops, to: m)
        #expect(out.column("gender")! == ["male", "female", "female", "male", "female", "male"])
        #expect(out.column("age_band")! == ["0-19", "0-19", "20-39", "60+", "", ""])  // 19.5 lies below the next band
        #expect(out.column("gender_race")! == ["male/Black", "female/White", "female/Others", "male/Asian", "female/Indian", "male/Black"])
        // && binds tighter than ||; row e is (true && unknown) || false: unknown
        #expect(out.column("older_woman")! == ["no", "no", "yes", "no", "", "no"])
        #expect(out.column("adult")! == ["yes", "yes", "yes", "yes", "", "no"])  // unknown age: unknown; -1 < 18
        let (kleene, _) = try Tagger().apply([try TagOperation.parseRule("k=age > 50 && gender == 1"), try TagOperation.parseRule("o=age > 50 || gender == 1")], to: m)
        #expect(kleene.column("k")! == ["no", "no", "no", "no", "", "no"])   // row e: unknown && true
        #expect(kleene.column("o")! == ["no", "yes", "yes", "yes", "yes", "no"])  // row e: unknown || true
        #expect(problems == ["--bins age_band: 1 value(s) of age fall in no band; left empty"])
    }

    @Test("a text cell ordered against a number is unknown, and reported; text against text orders as text")
    func ruleTextAgainstNumber() throws {
        let m = manifest([["a", "abc", "2020-01-05"], ["b", "61", "2019-12-31"], ["c", "5", ""], ["d", "n/a", "2021-03-01"]], columns: ["path", "age", "date"])
        let (out, problems) = try Tagger().apply([try TagOperation.parseRule("old=age >= 60"), try TagOperation.parseRule("young=age < 20 || age == abc"),
                                                 try TagOperation.parseRule("recent=date >= '2020-01-01'")], to: m)
        #expect(out.column("old")! == ["", "yes", "no", ""])
        // Row a: unknown || true is true; row d: unknown || false is unknown.
        #expect(out.column("young")! == ["yes", "no", "yes", ""])
        #expect(out.column("recent")! == ["yes", "no", "", "yes"])
        #expect(problems == ["--rule old: 2 value(s) of age are not numbers (such as 'abc'); compared with a number, they are unknown",
                             "--rule young: 2 value(s) of age are not numbers (such as 'abc'); compared with a number, they are unknown"])
    }

    @Test("a value in a gap between bands is in none of them")
    func binGaps() throws {
        let m = manifest([["a", "5"], ["b", "25"], ["c", "45"], ["d", "65"], ["e", "19.5"], ["f", "9.5"]], columns: ["path", "age"])
        let (wide, p1) = try Tagger().apply([try TagOperation.parseBins("band=age:0-19,60+")], to: m)
        #expect(wide.column("band")! == ["0-19", "", "", "60+", "", "0-19"])  // 19.5: 0-19 reaches up to 20 only when a band starts there
        #expect(p1 == ["--bins band: 3 value(s) of age fall in no band; left empty"])
        let (gap, _) = try Tagger().apply([try TagOperation.parseBins("band=age:0-9,20-29")], to: m)
        #expect(gap.column("band")! == ["0-9", "20-29", "", "", "", ""])  // 9.5 and 19.5 lie in the gap
    }

    @Test("rules nested too deep or too long are refused, not evaluated by deep recursion")
    func ruleLimits() {
        let deep = String(repeating: "(", count: 30000) + "age > 1" + String(repeating: ")", count: 30000)
        #expect(throws: RuleExpression.ParseError.self) { try RuleExpression.parse(deep) }
        #expect(throws: RuleExpression.ParseError.self) { try RuleExpression.parse(String(repeating: "!", count: 100000) + "age > 1") }
        #expect(throws: RuleExpression.ParseError.self) { try RuleExpression.parse(Array(repeating: "age > 1", count: 2000).joined(separator: " && ")) }
        let fine = String(repeating: "(", count: 60) + "age > 1" + String(repeating: ")", count: 60)
        #expect(throws: Never.self) { try RuleExpression.parse(fine) }
    }

    @Test("malformed operations are clear errors", arguments: ["age_band=age", "=age:0-1", "x=age:10-5", "x=age:abc"])
    func badBins(_ text: String) {
        #expect(throws: TagError.self) { try TagOperation.parseBins(text) }
    }

    @Test("rules: syntax errors name what was expected")
    func ruleErrors() {
        #expect(throws: RuleExpression.ParseError(message: "expected a comparison after 'age', found 'female' in rule 'age female'")) {
            try RuleExpression.parse("age female")
        }
        #expect(throws: RuleExpression.ParseError.self) { try RuleExpression.parse("(a == b") }
        #expect(throws: RuleExpression.ParseError.self) { try RuleExpression.parse("a in {b, c") }
        #expect(throws: TagError.self) { try Tagger().apply([try TagOperation.parseRule("x=nope == 1")], to: manifest([["a"]], columns: ["path"])) }
    }

    @Test("pixel tags: brightness, colourfulness, hue, size and aspect from decoded images")
    func pixels() throws {
        let dir = try TempDir()
        try dir.png("red.png", width: 100, height: 40, fill: [255, 0, 0, 255])
        try dir.png("white.png", width: 8, height: 8, fill: [255, 255, 255, 255])
        try dir.png("checker.png", width: 600, height: 900, pattern: { x, y in (x + y) % 2 == 0 ? [255, 0, 0, 255] : [0, 255, 0, 255] })
        try dir.write("broken.png", "not an image")
        var m = Manifest(columns: ["path"], baseDirectory: dir.path)
        for p in ["red.png", "white.png", "checker.png", "broken.png"] { m.append(cells: [p]) }
        let (out, problems) = try Tagger().apply([.pixels(TagOperation.pixelTags)], to: m)
        #expect(out.column("brightness")! == ["dark", "bright", "mid", ""])  // red luma 76.2; checker (76.2 + 149.7) / 2
        #expect(out.column("colourfulness")! == ["high", "low", "high", ""])  // red 85.5 (statistics test), checker 293.25
        #expect(out.column("hue")! == ["red", "none", "red", ""])  // ties go to the first bin
        #expect(out.column("size")! == ["medium", "small", "large", ""])
        #expect(out.column("aspect")! == ["landscape", "square", "portrait", ""])
        #expect(problems.count == 1 && problems[0].contains("broken.png"))
    }

    @Test("image statistics equal hand-computed values")
    func statistics() {
        let checker = Image(width: 2, height: 1, pixels: [255, 0, 0, 255, 0, 255, 0, 255])
        let s = ImageStatistics(checker)
        // rg = +-255: mean 0, sd 255; yb = 127.5 both: mean 127.5, sd 0. M = 255 + 0.3 * 127.5
        #expect(abs(s.colourfulness - 293.25) < 1e-9)
        #expect(abs(s.brightness - (0.299 * 255 + 0.587 * 255) / 2) < 1e-9)
        #expect(s.meanR == 127.5 && s.meanG == 127.5 && s.meanB == 0)
        let grey = ImageStatistics(Image(width: 3, height: 3, fill: [90, 90, 90, 255]))
        #expect(grey.colourfulness == 0 && grey.dominantHue == "none" && abs(grey.brightness - 90) < 1e-9)
        let red = ImageStatistics(Image(width: 1, height: 1, fill: [255, 0, 0, 255]))
        #expect(abs(red.colourfulness - 0.3 * (255.0 * 255 + 127.5 * 127.5).squareRoot()) < 1e-9)  // 85.5
        #expect(ImageStatistics(Image(width: 1, height: 1, fill: [0, 0, 255, 255])).dominantHue == "blue")
        #expect(ImageStatistics(Image(width: 1, height: 1, fill: [255, 255, 0, 255])).dominantHue == "yellow")
    }
}

@Suite("Vectorised statistics against a plain reference")
struct StatisticsReferenceTests {
    /// The textbook definitions, one pixel at a time in Double: HSV hue in degrees, Hasler and
    /// Süsstrunk's colourfulness, BT.601 luma.
    func reference(_ image: Image) -> (brightness: Double, colourfulness: Double, hue: String) {
        let n = image.width * image.height
        var luma = 0.0, rg: [Double] = [], yb: [Double] = []
        var bins = [Int](repeating: 0, count: 8), chromatic = 0
        for i in 0..<n {
            let r = Double(image.pixels[i * 4]), g = Double(image.pixels[i * 4 + 1]), b = Double(image.pixels[i * 4 + 2])
            luma += 0.299 * r + 0.587 * g + 0.114 * b
            rg.append(r - g); yb.append(0.5 * (r + g) - b)
            let mx = Swift.max(r, Swift.max(g, b)), mn = Swift.min(r, Swift.min(g, b)), d = mx - mn
            guard mx / 255 > 0.2, d / mx > 0.2 else { continue }
            var h = mx == r ? 60 * (g - b) / d : (mx == g ? 60 * (b - r) / d + 120 : 60 * (r - g) / d + 240)
            if h < 0 { h += 360 }
            let bounds: [Double] = [15, 45, 70, 160, 200, 260, 290, 335]
            let k = bounds.firstIndex { h < $0 } ?? 8
            bins[k == 8 ? 0 : k] += 1
            chromatic += 1
        }
        func meanSD(_ v: [Double]) -> (Double, Double) {
            let m = v.reduce(0, +) / Double(v.count)
            return (m, (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot())
        }
        let (mRG, sRG) = meanSD(rg), (mYB, sYB) = meanSD(yb)
        let colourfulness = (sRG * sRG + sYB * sYB).squareRoot() + 0.3 * (mRG * mRG + mYB * mYB).squareRoot()
        let best = bins.indices.max { bins[$0] < bins[$1] || (bins[$0] == bins[$1] && $0 > $1) }!
        return (luma / Double(n), colourfulness, Double(chromatic) < 0.1 * Double(n) ? "none" : ImageStatistics.hueNames[best])
    }

    @Test("random images of awkward sizes (not multiples of 16; over 4,096 pixels) agree with the reference",
          arguments: [(1, 1), (3, 5), (17, 1), (32, 32), (65, 67), (100, 70)])
    func agrees(_ w: Int, _ h: Int) {
        var rng = SplitMix(state: UInt64(w * 1000 + h))
        for trial in 0..<4 {
            // trial 0: vivid noise; 1: near-grey; 2: one dominant hue with noise; 3: dark
            let image = Image(width: w, height: h, pixels: (0..<(w * h)).flatMap { _ -> [UInt8] in
                let base = UInt8.random(in: 0...255, using: &rng)
                switch trial {
                case 0: return [UInt8.random(in: 0...255, using: &rng), UInt8.random(in: 0...255, using: &rng), UInt8.random(in: 0...255, using: &rng), 255]
                case 1: return [base, base &+ UInt8.random(in: 0...3, using: &rng), base, 255]
                case 2: return [UInt8.random(in: 20...60, using: &rng), UInt8.random(in: 150...255, using: &rng), UInt8.random(in: 140...255, using: &rng), 255]
                default: return [UInt8.random(in: 0...60, using: &rng), UInt8.random(in: 0...60, using: &rng), UInt8.random(in: 0...60, using: &rng), 255]
                }
            })
            let s = ImageStatistics(image), r = reference(image)
            #expect(abs(s.brightness - r.brightness) < 1e-9 * max(1, r.brightness), "\(w)x\(h) trial \(trial)")
            #expect(abs(s.colourfulness - r.colourfulness) < 1e-9 * max(1, r.colourfulness), "\(w)x\(h) trial \(trial)")
            #expect(s.dominantHue == r.hue, "\(w)x\(h) trial \(trial)")
        }
    }
}
