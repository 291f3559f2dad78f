//! A minimal Markdown table writer, so results paste straight into `bench/results/*.md`.

/// Column-aligned Markdown table. Cells are plain strings; numbers are right-aligned.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Creates a table with the given column titles.
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        Self {
            header: header.iter().map(|h| h.as_ref().to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends one row; missing cells are left blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders the table, padding columns so it is also readable as plain text.
    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let numeric: Vec<bool> = (0..cols)
            .map(|i| {
                !self.rows.is_empty()
                    && self.rows.iter().all(|r| {
                        let c = r[i].trim();
                        c.is_empty()
                            || c == "-"
                            || c.chars().next().is_some_and(|ch| ch.is_ascii_digit())
                    })
            })
            .collect();
        let line = |cells: &[String]| -> String {
            let mut s = String::from("|");
            for (i, c) in cells.iter().enumerate() {
                let pad = width[i] - c.chars().count();
                if numeric[i] {
                    s.push_str(&format!(" {}{} |", " ".repeat(pad), c));
                } else {
                    s.push_str(&format!(" {}{} |", c, " ".repeat(pad)));
                }
            }
            s.push('\n');
            s
        };
        let mut out = line(&self.header);
        out.push('|');
        for i in 0..cols {
            if numeric[i] {
                out.push_str(&format!("{}:|", "-".repeat(width[i] + 1)));
            } else {
                out.push_str(&format!("{}|", "-".repeat(width[i] + 2)));
            }
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_markdown() {
        let mut t = Table::new(&["name", "GB/s"]);
        t.row(vec!["blake3".into(), "6.10".into()]);
        t.row(vec!["md5".into(), "0.57".into()]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "| name   | GB/s |");
        assert_eq!(lines[1], "|--------|-----:|");
        assert_eq!(lines[2], "| blake3 | 6.10 |");
        assert_eq!(lines[3], "| md5    | 0.57 |");
    }
}
