//! Prompt weighting exactly as ComfyUI parses it (`comfy/sd1_clip.py`:
//! `escape_important`, `parse_parentheses`, `token_weights`).
//!
//! * `(text)` multiplies the weight by 1.1, nested groups multiply again:
//!   `((text))` is 1.21.
//! * `(text:1.3)` sets the weight to 1.3 (it replaces, not multiplies, the
//!   weight of the enclosing groups: `((a:1.3))` is 1.3).
//! * `\(` and `\)` are literal brackets.
//! * Square brackets are plain text in ComfyUI (A1111's `[text]` = /1.1 is
//!   not ComfyUI syntax), so they are kept as text here too: matching
//!   ComfyUI's numbers is the point.
//!
//! Weights are kept in f64, as Python floats are, so `(((a)))` is
//! 1.1*1.1*1.1 with Python's rounding.

/// A piece of prompt text with its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    pub text: String,
    pub weight: f64,
}

const ESC_CLOSE: &str = "\u{0}\u{1}";
const ESC_OPEN: &str = "\u{0}\u{2}";

fn escape_important(text: &str) -> String {
    text.replace("\\)", ESC_CLOSE).replace("\\(", ESC_OPEN)
}

fn unescape_important(text: &str) -> String {
    text.replace(ESC_CLOSE, ")").replace(ESC_OPEN, "(")
}

/// Splits at top-level parenthesised groups (ComfyUI's
/// `parse_parentheses`, unbalanced brackets included).
fn parse_parentheses(s: &str) -> Vec<String> {
    let mut result = Vec::new();
    let mut current = String::new();
    let mut nesting: i64 = 0;
    for c in s.chars() {
        match c {
            '(' => {
                if nesting == 0 {
                    if !current.is_empty() {
                        result.push(std::mem::take(&mut current));
                    }
                    current = "(".into();
                } else {
                    current.push(c);
                }
                nesting += 1;
            }
            ')' => {
                nesting -= 1;
                if nesting == 0 {
                    current.push(')');
                    result.push(std::mem::take(&mut current));
                } else {
                    current.push(c);
                }
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        result.push(current);
    }
    result
}

/// Python's `float()` on a string, for the forms a prompt uses.
fn py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    t.replace('_', "").parse::<f64>().ok()
}

fn token_weights(s: &str, current: f64) -> Vec<Weighted> {
    let mut out = Vec::new();
    for x in parse_parentheses(s) {
        if x.len() >= 2 && x.starts_with('(') && x.ends_with(')') {
            let mut inner = &x[1..x.len() - 1];
            let mut weight = current * 1.1;
            if let Some(pos) = inner.rfind(':').filter(|&p| p > 0)
                && let Some(v) = py_float(&inner[pos + 1..])
            {
                weight = v;
                inner = &inner[..pos];
            }
            out.extend(token_weights(inner, weight));
        } else {
            out.push(Weighted {
                text: x,
                weight: current,
            });
        }
    }
    out
}

/// Splits a prompt into weighted pieces, brackets resolved and escapes
/// undone.
pub fn parse(prompt: &str) -> Vec<Weighted> {
    token_weights(&escape_important(prompt), 1.0)
        .into_iter()
        .map(|w| Weighted {
            text: unescape_important(&w.text),
            weight: w.weight,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, f64)> {
        parse(s).into_iter().map(|w| (w.text, w.weight)).collect()
    }

    fn v(items: &[(&str, f64)]) -> Vec<(String, f64)> {
        items.iter().map(|(s, w)| (s.to_string(), *w)).collect()
    }

    // The examples of ComfyUI's `token_weights` docstring.
    #[test]
    fn comfyui_docstring_examples() {
        assert_eq!(p("(foo)"), v(&[("foo", 1.1)]));
        assert_eq!(p("(foo)(bar)"), v(&[("foo", 1.1), ("bar", 1.1)]));
        assert_eq!(p("(foo:2.0)"), v(&[("foo", 2.0)]));
        assert_eq!(p("((foo))"), v(&[("foo", 1.1 * 1.1)]));
        assert_eq!(p("((foo):1.1)"), v(&[("foo", 1.1 * 1.1)]));
        assert_eq!(p("((foo:1.1))"), v(&[("foo", 1.1)]));
        assert_eq!(p("(foo:0.0)"), v(&[("foo", 0.0)]));
        assert_eq!(p("((foo:1.0):0.0)"), v(&[("foo", 1.0)]));
        assert_eq!(
            p("foo ((((lol (cat:666) attack:100)))) baz"),
            v(&[
                ("foo ", 1.0),
                ("lol ", 100.0),
                ("cat", 666.0),
                (" attack", 100.0),
                (" baz", 1.0)
            ])
        );
        assert_eq!(
            p("foo ((((lol (cat:666) attack):100))) baz"),
            v(&[
                ("foo ", 1.0),
                ("lol ", 110.00000000000001),
                ("cat", 666.0),
                (" attack", 110.00000000000001),
                (" baz", 1.0)
            ])
        );
    }

    #[test]
    fn escapes_brackets_and_bad_weights() {
        assert_eq!(p(r"a \(b\) c"), v(&[("a (b) c", 1.0)]));
        assert_eq!(p("[word]"), v(&[("[word]", 1.0)]));
        assert_eq!(p("(a:b)"), v(&[("a:b", 1.1)]));
        assert_eq!(p("(a: 1.5 )"), v(&[("a", 1.5)]));
        assert_eq!(p("(:2)"), v(&[(":2", 1.1)]));
        // Unbalanced brackets as ComfyUI leaves them.
        assert_eq!(p("a (b"), v(&[("a ", 1.0), ("(b", 1.0)]));
        assert_eq!(p("a) b"), v(&[("a) b", 1.0)]));
    }
}
