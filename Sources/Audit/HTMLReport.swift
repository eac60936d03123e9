import Foundation

extension DatasetAudit {
    /// A Markdown report: the findings first, then each attribute's tables.
    public var markdown: String {
        var md = "# Dataset audit: \(manifestPath)\n\n"
        md += "\(rows) rows\(weighted ? " (weighted by the `weight` column)" : ""); label column `\(labelColumn)`: "
        md += labels.map { "\($0.label) \(pct($0.share))" }.joined(separator: ", ") + "\n\n"
        md += "## Findings\n\n"
        if findings.isEmpty { md += "None passed the thresholds.\n\n" }
        for f in findings { md += "- **\(f.severity.name)** (\(f.kind)\(f.attribute.map { ", \($0)" } ?? "")): \(f.message)\n" }
        md += "\n"
        for a in attributes {
            md += "## \(a.name)\n\n"
            md += "| group | count | share | 95% interval |\n|---|---:|---:|---|\n"
            for g in a.groups { md += "| \(markdownCell(g.value)) | \(num(g.count)) | \(pct(g.share)) | \(pct(g.wilsonLow)) to \(pct(g.wilsonHigh)) |\n" }
            md += "\n| \(markdownCell(labelColumn)) | " + a.values.map(markdownCell).joined(separator: " | ") + " |\n|---|" + a.values.map { _ in "---:|" }.joined() + "\n"
            let byLabel = a.cellsByLabel
            for l in a.labels {
                md += "| \(markdownCell(l)) | " + a.values.map { v in
                    guard let c = byLabel[l]?[v] else { return "n/a" }
                    return "\(num(c.count)) (\(pct(c.labelRate)))"
                }.joined(separator: " | ") + " |\n"
            }
            md += "\nCells: count (P(\(labelColumn) | group)).\n\n"
            md += "| measure | value |\n|---|---:|\n"
            let rows: [(String, String)] = [
                ("chi-square (dof)", a.chi2.map { String(format: "%.4f (%d)", $0, a.dof ?? 0) } ?? "n/a"),
                ("p-value", a.pValue.map { String(format: "%.4g", $0) } ?? "n/a"),
                ("Cramér's V (bias-corrected)", a.cramersV.map { String(format: "%.4f (%@)", $0, a.cramersVCorrected.map { String(format: "%.4f", $0) } ?? "n/a") } ?? "n/a"),
                ("mutual information, nats (normalised)", a.mutualInformation.map { String(format: "%.5f (%@)", $0, a.mutualInformationNormalized.map { String(format: "%.5f", $0) } ?? "n/a") } ?? "n/a"),
                ("statistical parity difference", a.statisticalParityDifference.map { String(format: "%.4f", $0) } ?? "n/a"),
                ("disparate impact", a.disparateImpact.map { String(format: "%.4f", $0) } ?? "n/a"),
                ("smoothed EDF epsilon", a.smoothedEDF.map { String(format: "%.4f", $0) } ?? "n/a"),
                ("representation ratio", a.representationRatio.map { String(format: "%.4f", $0) } ?? "n/a"),
                ("imbalance ratio (largest / smallest cell)", a.imbalanceRatio.map { String(format: "%.2f", $0) } ?? "n/a"),
            ]
            for (k, v) in rows { md += "| \(k) | \(v) |\n" }
            md += "\nReweighing (AIF360, P(y)P(a)/P(y,a)): " + a.reweighing.map { "\($0.label ?? "")/\($0.value) \(String(format: "%.4f", $0.weight))" }.joined(separator: ", ") + "\n\n"
        }
        if let images {
            md += "## Images (catalog \(images.catalog))\n\n\(images.covered) rows with decoded images, \(images.uncovered) without; "
            md += "\(images.duplicateClusters.count) duplicate groups, \(images.leakingClusters) across splits.\n\n"
            for a in images.attributes {
                md += "| \(a.attribute) | images | " + ImageAudit.statisticNames.joined(separator: " | ") + " |\n|---|---:|" + ImageAudit.statisticNames.map { _ in "---:|" }.joined() + "\n"
                for g in a.groups {
                    md += "| \(markdownCell(g.value)) | \(g.images) | " + zip(g.means, g.deviations).map { String(format: "%.1f ± %.1f", $0, $1) }.joined(separator: " | ") + " |\n"
                }
                md += "\n"
            }
            if let s = images.separability {
                md += "Real vs synthetic (\(s.real) / \(s.synthetic) images): AUC " + s.auc.map { String(format: "%@ %.3f", $0.statistic, $0.auc) }.joined(separator: ", ")
                md += String(format: "; nearest-centroid balanced accuracy %.1f%%.\n\n", 100 * s.balancedAccuracy)
            }
        }
        if let features { md += features.markdown + "\n" }
        return md
    }

    /// A single-file HTML report with inline SVG charts; works offline.
    public var html: String {
        var body = "<h1>Dataset audit</h1><p class=sub>\(htmlEscape(manifestPath)): \(rows) rows\(weighted ? ", weighted" : ""); label column <code>\(htmlEscape(labelColumn))</code></p>"
        body += "<h2>Findings</h2>"
        if findings.isEmpty { body += "<p>None passed the thresholds.</p>" }
        body += "<ul class=findings>" + findings.map { "<li class=\($0.severity.name)><b>\($0.severity.name)</b> \(htmlEscape($0.kind)): \(htmlEscape($0.message))</li>" }.joined() + "</ul>"
        for a in attributes {
            body += "<section><h2>\(htmlEscape(a.name))</h2><div class=charts>"
            body += "<figure>\(groupChart(a))<figcaption>Group shares with 95% Wilson intervals</figcaption></figure>"
            body += "<figure>\(heatmap(a))<figcaption>P(\(htmlEscape(labelColumn)) | group)</figcaption></figure></div>"
            body += "<table><tr><th>chi-square</th><th>dof</th><th>p</th><th>Cramér's V</th><th>MI (nats)</th><th>SPD</th><th>DI</th><th>EDF ε</th><th>repr. ratio</th></tr><tr>"
            body += [a.chi2.map { String(format: "%.3f", $0) }, a.dof.map { String($0) }, a.pValue.map { String(format: "%.3g", $0) },
                     a.cramersV.map { String(format: "%.3f", $0) }, a.mutualInformation.map { String(format: "%.4f", $0) },
                     a.statisticalParityDifference.map { String(format: "%.3f", $0) }, a.disparateImpact.map { String(format: "%.3f", $0) },
                     a.smoothedEDF.map { String(format: "%.3f", $0) }, a.representationRatio.map { String(format: "%.3f", $0) }]
                .map { "<td>\($0 ?? "n/a")</td>" }.joined()
            body += "</tr></table></section>"
        }
        if let images {
            body += "<section><h2>Images</h2><p>\(images.covered) rows with decoded images; \(images.duplicateClusters.count) duplicate groups, \(images.leakingClusters) across splits.</p><div class=charts>"
            for a in images.attributes {
                for (k, name) in ImageAudit.statisticNames.enumerated() where k < 2 {
                    body += "<figure>\(statChart(a, k))<figcaption>\(htmlEscape(name)) by \(htmlEscape(a.attribute)) (mean ± SD)</figcaption></figure>"
                }
            }
            body += "</div>"
            if let s = images.separability {
                body += "<p>Real vs synthetic: " + s.auc.map { String(format: "%@ AUC %.3f", $0.statistic, $0.auc) }.joined(separator: ", ")
                    + String(format: "; nearest-centroid balanced accuracy %.1f%%.</p>", 100 * s.balancedAccuracy)
            }
            body += "</section>"
        }
        if let f = features {
            body += "<section><h2>Features</h2><p>\(htmlEscape(f.source)): \(f.rows) rows x \(f.dimension) values.</p>"
            body += "<table><tr><th>attribute</th><th>probe balanced accuracy</th><th>95% interval</th><th>chance</th><th>folds</th></tr>"
            for p in f.probes {
                body += String(format: "<tr><td>%@</td><td>%.3f</td><td>%.3f-%.3f</td><td>%.3f</td><td>%d</td></tr>", htmlEscape(p.attribute), p.balancedAccuracy, p.low, p.high, p.chance, p.folds)
            }
            body += "</table><table><tr><th>attribute</th><th>groups</th><th>centroid distance</th><th>in pooled spreads</th></tr>"
            for c in f.centroids {
                for (a, b) in f.pairs(c) {
                    body += String(format: "<tr><td>%@</td><td>%@ vs %@</td><td>%.4g</td><td>%.3f</td></tr>", htmlEscape(c.attribute), htmlEscape(c.groups[a]), htmlEscape(c.groups[b]), c.distances[a][b], c.normalized[a][b])
                }
            }
            body += "</table></section>"
        }
        let style = """
        body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}h1{margin-bottom:0}.sub{color:#666;margin-top:4px}
        section{border-top:1px solid #ddd;margin-top:18px}.charts{display:flex;flex-wrap:wrap;gap:18px}figure{margin:0}figcaption{color:#555;font-size:12px}
        table{border-collapse:collapse;margin:10px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
        .findings li.high b{color:#b00}.findings li.medium b{color:#c60}.findings li.low b{color:#666}
        svg text{font:11px system-ui,sans-serif}
        """
        return "<!doctype html><html lang=en><head><meta charset=utf-8><title>Curate audit</title><style>\(style)</style></head><body>\(body)</body></html>\n"
    }

    func groupChart(_ a: AttributeAudit) -> String {
        let rowH = 22, left = 150, width = 420
        let h = a.groups.count * rowH + 30
        let top = max(0.0001, a.groups.map(\.wilsonHigh).max() ?? 1)
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(left + width + 60)' height='\(h)'>"
        for (i, g) in a.groups.enumerated() {
            let y = 10 + i * rowH
            let x = { (v: Double) in Double(left) + v / top * Double(width) }
            s += "<text x='\(left - 6)' y='\(y + 14)' text-anchor='end'>\(htmlEscape(short(g.value)))</text>"
            s += "<rect x='\(left)' y='\(y + 3)' width='\(fmt(x(g.share) - Double(left)))' height='14' fill='#4c78a8'/>"
            s += "<line x1='\(fmt(x(g.wilsonLow)))' x2='\(fmt(x(g.wilsonHigh)))' y1='\(y + 10)' y2='\(y + 10)' stroke='#222' stroke-width='1.5'/>"
            s += "<text x='\(fmt(x(g.wilsonHigh) + 4))' y='\(y + 14)'>\(pct(g.share))</text>"
        }
        return s + "</svg>"
    }

    func heatmap(_ a: AttributeAudit) -> String {
        let cw = 64, ch = 24, left = 110, top = 70
        let w = left + a.values.count * cw + 10, h = top + a.labels.count * ch + 10
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(w)' height='\(h)'>"
        for (j, v) in a.values.enumerated() {
            s += "<text transform='translate(\(left + j * cw + cw / 2),\(top - 6)) rotate(-35)'>\(htmlEscape(short(v)))</text>"
        }
        let byLabel = a.cellsByLabel
        for (i, l) in a.labels.enumerated() {
            s += "<text x='\(left - 6)' y='\(top + i * ch + 16)' text-anchor='end'>\(htmlEscape(short(l)))</text>"
            for (j, v) in a.values.enumerated() {
                guard let c = byLabel[l]?[v] else { continue }
                let shade = Int(255 - 200 * c.labelRate)
                let fill = c.rows == 0 ? "#f2d0d0" : "rgb(\(shade),\(shade),255)"
                s += "<rect x='\(left + j * cw)' y='\(top + i * ch)' width='\(cw - 2)' height='\(ch - 2)' fill='\(fill)'/>"
                s += "<text x='\(left + j * cw + cw / 2)' y='\(top + i * ch + 16)' text-anchor='middle' fill='\(c.labelRate > 0.6 ? "#fff" : "#000")'>\(c.rows == 0 ? "empty" : String(format: "%.2f", c.labelRate))</text>"
            }
        }
        return s + "</svg>"
    }

    func statChart(_ a: ImageAudit.AttributeImages, _ k: Int) -> String {
        let rowH = 22, left = 150, width = 300
        let h = a.groups.count * rowH + 20
        let top = max(1e-9, a.groups.map { $0.means[k] + $0.deviations[k] }.max() ?? 1)
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(left + width + 70)' height='\(h)'>"
        for (i, g) in a.groups.enumerated() {
            let y = 8 + i * rowH
            let x = { (v: Double) in Double(left) + max(0, v) / top * Double(width) }
            s += "<text x='\(left - 6)' y='\(y + 14)' text-anchor='end'>\(htmlEscape(short(g.value)))</text>"
            s += "<rect x='\(left)' y='\(y + 3)' width='\(fmt(x(g.means[k]) - Double(left)))' height='14' fill='#72b7b2'/>"
            s += "<line x1='\(fmt(x(g.means[k] - g.deviations[k])))' x2='\(fmt(x(g.means[k] + g.deviations[k])))' y1='\(y + 10)' y2='\(y + 10)' stroke='#222'/>"
            s += "<text x='\(fmt(x(g.means[k] + g.deviations[k]) + 4))' y='\(y + 14)'>\(String(format: "%.1f", g.means[k]))</text>"
        }
        return s + "</svg>"
    }
}

func pct(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
func num(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%.3f", x) }
func fmt(_ x: Double) -> String { String(format: "%.1f", x) }
func short(_ s: String) -> String { s.count > 22 ? String(s.prefix(21)) + "…" : s }
/// Text escaped for HTML content and attribute values.
public func htmlEscape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "'", with: "&#39;").replacingOccurrences(of: "\"", with: "&quot;")
}

/// A value as a Markdown table cell: a '|' would end the cell early, a line break the row.
func markdownCell(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
        .replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
}
