//! Prompt weighting exactly as ComfyUI parses it (`comfy/sd1_clip.py`:
//! `escape_important`, `parse_parentheses`, `token_weights`).
//!
//! * `(text)` multiplies the weight by 1.1, nested groups multiply again:
//!   `((text))` is 1.21.
//! * `(text:1.3)` sets the weight to 1.3 (it replaces, not multiplies, the
//!   weight of the enclosing groups: `((a:1.3))` is 1.3).
//! * `\(` and `\)` are literal brackets.
//! * Square brackets are plain text in ComfyUI: A1111's `[text]` (weight
//!   divided by 1.1) is not ComfyUI syntax, so [`Syntax::ComfyUi`], the
//!   default, keeps them as text and matches ComfyUI's numbers.
//!   [`Syntax::SquareBrackets`] also reads `[text]` as /1.1 (nesting with
//!   parentheses, `\[` `\]` literal) for prompts written for A1111.
//!
//! Weights are kept in f64, as Python floats are, so `(((a)))` is
//! 1.1*1.1*1.1 with Python's rounding.

/// A piece of prompt text with its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    pub text: String,
    pub weight: f64,
}

/// Which brackets weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Syntax {
    /// ComfyUI's: parentheses only.
    #[default]
    ComfyUi,
    /// Also `[text]` = weight / 1.1, as A1111.
    SquareBrackets,
}

const ESC_CLOSE: &str = "\u{0}\u{1}";
const ESC_OPEN: &str = "\u{0}\u{2}";
const ESC_SQ_CLOSE: &str = "\u{0}\u{3}";
const ESC_SQ_OPEN: &str = "\u{0}\u{4}";

fn escape_important(text: &str, syntax: Syntax) -> String {
    let t = text.replace("\\)", ESC_CLOSE).replace("\\(", ESC_OPEN);
    match syntax {
        Syntax::ComfyUi => t,
        Syntax::SquareBrackets => t.replace("\\]", ESC_SQ_CLOSE).replace("\\[", ESC_SQ_OPEN),
    }
}

fn unescape_important(text: &str) -> String {
    text.replace(ESC_CLOSE, ")")
        .replace(ESC_OPEN, "(")
        .replace(ESC_SQ_CLOSE, "]")
        .replace(ESC_SQ_OPEN, "[")
}

/// Splits at top-level bracketed groups (ComfyUI's `parse_parentheses`,
/// unbalanced brackets included; square brackets count only under
/// [`Syntax::SquareBrackets`]).
fn parse_parentheses(s: &str, syntax: Syntax) -> Vec<String> {
    let square = syntax == Syntax::SquareBrackets;
    let mut result = Vec::new();
    let mut current = String::new();
    let mut nesting: i64 = 0;
    for c in s.chars() {
        let opens = c == '(' || (square && c == '[');
        let closes = c == ')' || (square && c == ']');
        if opens {
            if nesting == 0 && !current.is_empty() {
                result.push(std::mem::take(&mut current));
            }
            current.push(c);
            nesting += 1;
        } else if closes {
            nesting -= 1;
            current.push(c);
            if nesting == 0 {
                result.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
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

fn token_weights(s: &str, current: f64, syntax: Syntax) -> Vec<Weighted> {
    let mut out = Vec::new();
    for x in parse_parentheses(s, syntax) {
        let square = syntax == Syntax::SquareBrackets;
        if x.len() >= 2 && x.starts_with('(') && x.ends_with(')') {
            let mut inner = &x[1..x.len() - 1];
            let mut weight = current * 1.1;
            if let Some(pos) = inner.rfind(':').filter(|&p| p > 0)
                && let Some(v) = py_float(&inner[pos + 1..])
            {
                weight = v;
                inner = &inner[..pos];
            }
            out.extend(token_weights(inner, weight, syntax));
        } else if square && x.len() >= 2 && x.starts_with('[') && x.ends_with(']') {
            out.extend(token_weights(&x[1..x.len() - 1], current / 1.1, syntax));
        } else {
            out.push(Weighted {
                text: x,
                weight: current,
            });
        }
    }
    out
}

/// Splits a prompt into weighted pieces as ComfyUI does, brackets
/// resolved and escapes undone.
pub fn parse(prompt: &str) -> Vec<Weighted> {
    parse_with(prompt, Syntax::ComfyUi)
}

/// [`parse`] with a choice of [`Syntax`].
pub fn parse_with(prompt: &str, syntax: Syntax) -> Vec<Weighted> {
    token_weights(&escape_important(prompt, syntax), 1.0, syntax)
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
    fn square_brackets_when_asked() {
        let q = |s: &str| -> Vec<(String, f64)> {
            parse_with(s, Syntax::SquareBrackets)
                .into_iter()
                .map(|w| (w.text, w.weight))
                .collect()
        };
        assert_eq!(
            q("a [b] c"),
            v(&[("a ", 1.0), ("b", 1.0 / 1.1), (" c", 1.0)])
        );
        assert_eq!(q("[[b]]"), v(&[("b", 1.0 / 1.1 / 1.1)]));
        assert_eq!(q("([b])"), v(&[("b", 1.1 / 1.1)]));
        assert_eq!(q("[(b:1.5)]"), v(&[("b", 1.5)]));
        assert_eq!(q(r"\[b\]"), v(&[("[b]", 1.0)]));
        // ComfyUI's default leaves them as text.
        assert_eq!(p("a [b] c"), v(&[("a [b] c", 1.0)]));
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
