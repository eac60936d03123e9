import Audit
import DatasetCatalog
import Foundation

extension ExperimentResults {
    /// Cramér's V between the label and the attribute in each intervention's fine-tuning set
    /// (seed 0's, weighted), for the bias-against-correlation chart.
    public static func targetAssociation(_ manifest: ExperimentManifest, outDir: String, target: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for i in manifest.interventions {
            let path: String
            if i.strategy == "ffr" { path = "\(outDir)/targets/\(i.name)-seed\(manifest.seeds[0]).stage2.csv" }
            else if i.strategy != nil { path = "\(outDir)/targets/\(i.name)-seed\(manifest.seeds[0]).csv" }
            else { path = target }
            guard let m = try? ManifestReader.read(path),
                  let audit = try? DatasetAudit.run(m, path: path, options: AuditOptions(attributes: [manifest.attribute])),
                  let v = audit.attributes.first?.cramersV else { continue }
            out[i.name] = v
        }
        return out
    }

    /// A single-file HTML report with inline SVG charts (no scripts): each bias metric per
    /// intervention with 95% intervals, average against worst-group accuracy, and inherited
    /// bias against the fine-tuning set's label-attribute association.
    public static func html(_ manifest: ExperimentManifest, cells: [Cell], association: [String: Double]) -> String {
        let interventions = manifest.interventions.map(\.name)
        func values(_ i: String, _ t: String, _ s: String, _ m: String) -> [Double] {
            cells.filter { $0.intervention == i && $0.transfer == t && $0.source == s }.sorted { $0.seed < $1.seed }.compactMap { $0.values[m] }
        }
        let colours = ["biased": "#d62728", "clean": "#2ca02c", "scratch": "#7f7f7f", "robust": "#1f77b4", "biased-robust": "#9467bd"]
        func barChart(_ metric: String, _ transfer: String) -> String {
            let rowH = 16 * manifest.sources.count + 10, left = 110, width = 360
            let h = interventions.count * rowH + 30
            var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(left + width + 70)' height='\(h)'>"
            for (k, i) in interventions.enumerated() {
                let y0 = 10 + k * rowH
                s += "<text x='\(left - 6)' y='\(y0 + rowH / 2 + 2)' text-anchor='end'>\(htmlEscape(i))</text>"
                for (j, src) in manifest.sources.enumerated() {
                    let xs = values(i, transfer, src, metric)
                    guard !xs.isEmpty else { continue }
                    let (m, half) = meanCI(xs)
                    let x = { (v: Double) in Double(left) + max(0, min(1, v)) * Double(width) }
                    let y = y0 + j * 16
                    s += "<rect x='\(left)' y='\(y)' width='\(f1(x(m) - Double(left)))' height='12' fill='\(colours[src] ?? "#444")' opacity='0.8'/>"
                    if let half { s += "<line x1='\(f1(x(m - half)))' x2='\(f1(x(m + half)))' y1='\(y + 6)' y2='\(y + 6)' stroke='#000'/>" }
                    s += "<text x='\(f1(x(m + (half ?? 0)) + 4))' y='\(y + 10)'>\(ExperimentResults.tenths(100 * m))</text>"
                }
            }
            return s + "</svg>"
        }
        func scatter(_ xs: [(String, Double, Double)], xLabel: String, yLabel: String, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>) -> String {
            let w = 420, h = 300, pad = 40
            let sx = { (v: Double) in Double(pad) + (v - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * Double(w - 2 * pad) }
            let sy = { (v: Double) in Double(h - pad) - (v - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * Double(h - 2 * pad) }
            var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(w)' height='\(h)'>"
            s += "<line x1='\(pad)' y1='\(h - pad)' x2='\(w - pad)' y2='\(h - pad)' stroke='#888'/><line x1='\(pad)' y1='\(pad)' x2='\(pad)' y2='\(h - pad)' stroke='#888'/>"
            s += "<text x='\(w / 2)' y='\(h - 8)' text-anchor='middle'>\(htmlEscape(xLabel))</text>"
            s += "<text transform='translate(12,\(h / 2)) rotate(-90)' text-anchor='middle'>\(htmlEscape(yLabel))</text>"
            for (label, x, y) in xs {
                s += "<circle cx='\(f1(sx(x)))' cy='\(f1(sy(y)))' r='4' fill='#1f77b4'/><text x='\(f1(sx(x) + 6))' y='\(f1(sy(y) - 4))'>\(htmlEscape(label))</text>"
            }
            return s + "</svg>"
        }
        var body = "<h1>Experiment \(htmlEscape(manifest.name))</h1><p class=sub>\(manifest.seeds.count) seed\(manifest.seeds.count == 1 ? "" : "s"); attribute <code>\(htmlEscape(manifest.attribute))</code>; bars are means in percent, whiskers 95% intervals over seeds; red: from the biased source, green: from the clean one"
            + (manifest.sources.contains("robust") ? ", blue: from the robust (adversarially trained) one" : "")
            + (manifest.sources.contains("biased-robust") ? ", purple: from the biased-robust one" : "") + ".</p>"
        for t in manifest.transfers {
            body += "<section><h2>\(t == "linear" ? "Fixed-feature (linear) fine-tuning" : "Full fine-tuning")</h2><div class=charts>"
            for (metric, title) in [("flip_rate", "counterfactual flip rate"), ("worst_group_accuracy", "worst-group accuracy"), ("equalized_odds_difference", "equalized-odds difference")] {
                body += "<figure>\(barChart(metric, t))<figcaption>\(title)</figcaption></figure>"
            }
            body += "</div></section>"
        }
        if let spec = manifest.attack {
            body += "<section><h2>Robustness</h2><p class=sub>Robust accuracy under \(htmlEscape(spec.description)).</p><div class=charts>"
            for t in manifest.transfers {
                for b in spec.budgets {
                    body += "<figure>\(barChart(robustMetrics(b).accuracy, t))<figcaption>robust accuracy @ \(htmlEscape(b)), \(t == "linear" ? "fixed-feature" : "full") fine-tuning</figcaption></figure>"
                }
            }
            body += "</div></section>"
        }
        var points: [(String, Double, Double)] = []
        for i in interventions {
            for t in manifest.transfers {
                let a = values(i, t, "biased", "overall_accuracy"), w = values(i, t, "biased", "worst_group_accuracy")
                if !a.isEmpty && !w.isEmpty { points.append(("\(i) (\(t))", meanCI(a).mean, meanCI(w).mean)) }
            }
        }
        body += "<section><h2>Average against worst-group accuracy (from the biased source)</h2>"
        body += scatter(points, xLabel: "accuracy", yLabel: "worst-group accuracy", xRange: 0...1, yRange: 0...1) + "</section>"
        var bias: [(String, Double, Double)] = []
        for i in interventions {
            guard let v = association[i] else { continue }
            let b = values(i, "linear", "biased", "flip_rate"), c = values(i, "linear", "clean", "flip_rate")
            if !b.isEmpty && b.count == c.count { bias.append((i, v, meanCI(zip(b, c).map { $0 - $1 }).mean)) }
        }
        if !bias.isEmpty {
            let ys = bias.map(\.2)
            body += "<section><h2>Inherited bias against the fine-tuning set's correlation</h2>"
            body += scatter(bias, xLabel: "Cramér's V of label and \(manifest.attribute) in the fine-tuning set",
                            yLabel: "inherited flip rate (biased - clean, linear)", xRange: 0...max(0.05, (bias.map(\.1).max() ?? 1) * 1.1),
                            yRange: min(0, ys.min()! * 1.1)...max(0.05, ys.max()! * 1.1)) + "</section>"
        }
        body += "<section><h2>Table</h2><pre>\(htmlEscape(markdown(manifest, cells: cells)))</pre></section>"
        let style = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222}.sub{color:#666}.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-size:12px;color:#555}svg text{font:11px system-ui,sans-serif}section{border-top:1px solid #ddd;margin-top:16px}pre{font-size:12px}"
        return "<!doctype html><html lang=en><head><meta charset=utf-8><title>Curate experiment</title><style>\(style)</style></head><body>\(body)</body></html>\n"
    }

    static func f1(_ x: Double) -> String { String(format: "%.1f", x) }
}
