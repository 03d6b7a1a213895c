//! Prometheus text exposition (format 0.0.4) for the services' few counters and gauges, written by hand:
//! a handful of lines does not need a metrics framework.
//!
//! ```text
//! # HELP <name> <help>
//! # TYPE <name> counter|gauge
//! <name>[{label="value"}] <number>
//! ```

use std::fmt::Write as _;

/// The content type of the text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Builds one exposition page.
#[derive(Debug, Default)]
pub(crate) struct MetricsText {
    text: String,
}

impl MetricsText {
    /// A counter or gauge without labels.
    pub(crate) fn metric(&mut self, name: &str, kind: &str, help: &str, value: f64) -> &mut Self {
        self.header(name, kind, help);
        let _ = writeln!(self.text, "{name} {}", number(value));
        self
    }

    /// A metric with one label and several values.
    pub(crate) fn labelled(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        label: &str,
        values: &[(&str, f64)],
    ) -> &mut Self {
        self.header(name, kind, help);
        for (value_of_label, value) in values {
            let _ = writeln!(self.text, "{name}{{{label}=\"{value_of_label}\"}} {}", number(*value));
        }
        self
    }

    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// The page.
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.text)
    }
}

/// Integers without a fraction, others with up to three decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_has_help_type_and_values() {
        let page = MetricsText::default()
            .metric("a_total", "counter", "Things.", 3.0)
            .labelled("b", "gauge", "Rates.", "kind", &[("x", 1.5), ("y", 2.0)])
            .finish();
        assert_eq!(
            page,
            "# HELP a_total Things.\n# TYPE a_total counter\na_total 3\n# HELP b Rates.\n# TYPE b gauge\n\
             b{kind=\"x\"} 1.500\nb{kind=\"y\"} 2\n"
        );
    }
}
