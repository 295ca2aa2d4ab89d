//! What a placeholder takes, as the server says when a statement is prepared, and the check at
//! setup of every parameter's generator against it.
//!
//! A generator that can draw even one value its placeholder cannot take is refused: at load
//! it would fail every time it drew one, and a benchmark whose transactions fail by chance
//! measures the wrong thing. Only what a generator can draw is checked, never the values
//! themselves, so a sequence is checked at its start alone (how far it counts depends on the
//! run). The backends say what they can: PostgreSQL names each placeholder's type, MySQL and
//! MariaDB only how many there are.

use super::params::{Generator, list_value};
use super::script::Plan;
use crate::workload::ListValue;

/// What the server said one placeholder takes.
#[derive(Debug, Clone)]
pub struct Placeholder {
    /// The server's name for its type (`int4`, `numeric`); empty where it names none.
    pub type_name: String,
    pub takes: Takes,
}

impl Placeholder {
    /// A placeholder whose type the server does not say.
    pub fn unknown() -> Placeholder {
        Placeholder {
            type_name: String::new(),
            takes: Takes::Unknown,
        }
    }
}

/// The values a backend can bind to a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// Whole numbers from `min` to `max`, and text that reads as one of them.
    Int { min: i64, max: i64 },
    /// Any number, and text that reads as one.
    Float,
    /// Any value; numbers go as their digits.
    Text,
    /// Nothing: a type the backend does not bind.
    Nothing,
    /// The server does not say: values go as drawn, and the server converts them.
    Unknown,
}

/// A statement whose parameters do not fit its placeholders: which one (an index into
/// [`Plan::statements`]), and why, in words that end with what to change.
#[derive(Debug)]
pub struct Misfit {
    pub statement: usize,
    pub message: String,
}

/// Checks every statement of `plan` against `placeholders`, what the server said of each
/// statement's placeholders in order. The first misfit found is returned.
pub fn check(plan: &Plan, placeholders: impl Fn(usize) -> Vec<Placeholder>) -> Result<(), Misfit> {
    let steps = plan.transactions.iter().flat_map(|t| t.steps.iter());
    for step in steps {
        let found = placeholders(step.statement);
        let misfit = |message: String| Misfit {
            statement: step.statement,
            message,
        };
        if found.len() != step.bind.len() {
            let (counted, bound) = (found.len(), step.bind.len());
            let plural = if counted == 1 { "" } else { "s" };
            return Err(misfit(format!(
                "the server counts {counted} placeholder{plural} in it, but plimsoll binds \
                 {bound} there; write every parameter as `{{name}}`, not as `$1` or `?`"
            )));
        }
        for (&param, placeholder) in step.bind.iter().zip(&found) {
            let (name, generator) = (&plan.param_names[param], &plan.params[param]);
            if let Err(why) = fits(generator, placeholder.takes) {
                return Err(misfit(explain(name, generator, placeholder, why)));
            }
        }
    }
    Ok(())
}

/// Why a generator's values do not all fit a placeholder.
#[derive(Debug, PartialEq, Eq)]
enum Why {
    /// Some of the int range lies outside the type's; `fit` is the part within it, if any.
    Range { fit: Option<(i64, i64)> },
    /// A sequence starting outside the type's range.
    Start,
    /// A list value outside the type's range.
    ValueOutOfRange(String),
    /// A list value that is not a number of the kind the placeholder takes.
    NotNumber(String),
    /// Text drawn at random (or YCSB keys), which is not numbers.
    Text,
    /// A type the backend does not bind at all.
    Unbindable,
}

fn fits(generator: &Generator, takes: Takes) -> Result<(), Why> {
    match takes {
        Takes::Text | Takes::Unknown => Ok(()),
        Takes::Nothing => Err(Why::Unbindable),
        Takes::Int { min, max } => fits_int(generator, min, max),
        Takes::Float => match generator {
            Generator::Int { .. } | Generator::Sequence(_) => Ok(()),
            Generator::List(values) => values.iter().try_for_each(|value| match value {
                ListValue::Text(text) if text.parse::<f64>().is_err() => {
                    Err(Why::NotNumber(list_value(value)))
                }
                _ => Ok(()),
            }),
            Generator::Text { .. } | Generator::Key(_) | Generator::NewKey(_) => Err(Why::Text),
        },
    }
}

/// Whether every value `generator` draws is a whole number from `low` to `high`. Text is
/// read as the backend reads it when binding.
fn fits_int(generator: &Generator, low: i64, high: i64) -> Result<(), Why> {
    let within = |n: i64| (low..=high).contains(&n);
    match generator {
        Generator::Int { min, max, .. } if within(*min) && within(*max) => Ok(()),
        Generator::Int { min, max, .. } => {
            let fit = (*min.max(&low), *max.min(&high));
            Err(Why::Range {
                fit: (fit.0 <= fit.1).then_some(fit),
            })
        }
        // Nothing has been drawn at setup, when this is asked.
        Generator::Sequence(next) if within(next.load(std::sync::atomic::Ordering::Relaxed)) => {
            Ok(())
        }
        Generator::Sequence(_) => Err(Why::Start),
        Generator::List(values) => values.iter().try_for_each(|value| {
            let n = match value {
                ListValue::Int(n) => *n,
                ListValue::Text(text) => {
                    let parsed = text.parse::<i64>();
                    parsed.map_err(|_| Why::NotNumber(list_value(value)))?
                }
            };
            match within(n) {
                true => Ok(()),
                false => Err(Why::ValueOutOfRange(list_value(value))),
            }
        }),
        Generator::Text { .. } | Generator::Key(_) | Generator::NewKey(_) => Err(Why::Text),
    }
}

fn explain(name: &str, generator: &Generator, placeholder: &Placeholder, why: Why) -> String {
    let ty = &placeholder.type_name;
    let head = format!(
        "parameter `{name}`, {}, goes to a placeholder of type {ty}",
        generator.describe()
    );
    let holds = match placeholder.takes {
        Takes::Int { min, max } => format!("{ty} holds {min} to {max}"),
        _ => String::new(),
    };
    let widen = format!("or cast the placeholder to a wider type, like `{{{name}}}::bigint`");
    let as_text = format!("or compare as text, like `<column>::text = {{{name}}}`");
    let whole = match placeholder.takes {
        Takes::Int { .. } => "a whole number",
        _ => "a number",
    };
    match why {
        Why::Range {
            fit: Some((min, max)),
        } => format!(
            "{head}, and some of its values would not fit ({holds}); draw from min = {min} to \
             max = {max}, {widen}"
        ),
        Why::Range { fit: None } => format!(
            "{head}, and none of its values fit ({holds}); draw from within that range, {widen}"
        ),
        Why::Start => format!(
            "{head}, which starts outside that type ({holds}); start it within that range, \
             {widen}"
        ),
        Why::ValueOutOfRange(value) => format!(
            "{head}, and {value} does not fit ({holds}); list values within that range, {widen}"
        ),
        Why::NotNumber(value) => format!(
            "{head}, and {value} is not {whole}; list numbers, like `values = [1, 2]`, {as_text}"
        ),
        Why::Text => format!(
            "{head}, and its values are not all numbers; draw numbers with an int parameter, like \
             `{name} = {{ kind = \"int\", min = 1, max = 1000 }}`, {as_text}"
        ),
        Why::Unbindable => {
            let via = match generator {
                Generator::Int { .. } | Generator::Sequence(_) => "bigint",
                _ => "text",
            };
            format!(
                "{head}, which plimsoll does not bind (it binds whole numbers, floats and text); \
                 cast the placeholder and let the server convert it, like \
                 `{{{name}}}::{via}::{ty}`"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicI64;

    use super::*;

    const INT4: Takes = Takes::Int {
        min: i32::MIN as i64,
        max: i32::MAX as i64,
    };

    fn list(values: &[ListValue]) -> Generator {
        Generator::List(values.to_vec())
    }

    #[test]
    fn an_int_range_fits_only_within_the_type() {
        assert_eq!(fits(&Generator::uniform(1, 1000), INT4), Ok(()));
        assert_eq!(
            fits(&Generator::uniform(1, 99_999_999_999), INT4),
            Err(Why::Range {
                fit: Some((1, 2_147_483_647))
            })
        );
        assert_eq!(
            fits(&Generator::uniform(3_000_000_000, 3_000_000_009), INT4),
            Err(Why::Range { fit: None })
        );
        let int8 = Takes::Int {
            min: i64::MIN,
            max: i64::MAX,
        };
        assert_eq!(fits(&Generator::uniform(1, 99_999_999_999), int8), Ok(()));
        assert_eq!(
            fits(&Generator::uniform(1, 99_999_999_999), Takes::Float),
            Ok(())
        );
    }

    #[test]
    fn text_fits_a_number_only_where_it_reads_as_one() {
        let digits = list(&[ListValue::Text("12".into()), ListValue::Int(7)]);
        assert_eq!(fits(&digits, INT4), Ok(()));
        let words = list(&[ListValue::Text("a".into()), ListValue::Text("b".into())]);
        assert_eq!(fits(&words, INT4), Err(Why::NotNumber("\"a\"".into())));
        let decimal = list(&[ListValue::Text("1.5".into())]);
        assert_eq!(fits(&decimal, Takes::Float), Ok(()));
        assert_eq!(fits(&decimal, INT4), Err(Why::NotNumber("\"1.5\"".into())));
        let big = list(&[ListValue::Int(1), ListValue::Int(40_000)]);
        let int2 = Takes::Int {
            min: i16::MIN.into(),
            max: i16::MAX.into(),
        };
        assert_eq!(fits(&big, int2), Err(Why::ValueOutOfRange("40000".into())));
        let random = Generator::Text { min: 1, max: 1 };
        assert_eq!(fits(&random, INT4), Err(Why::Text));
        assert_eq!(fits(&random, Takes::Float), Err(Why::Text));
        for takes in [Takes::Text, Takes::Unknown] {
            assert_eq!(fits(&words, takes), Ok(()));
            assert_eq!(fits(&Generator::uniform(1, 9), takes), Ok(()));
        }
    }

    #[test]
    fn a_sequence_is_checked_at_its_start() {
        let start = |n| Generator::Sequence(AtomicI64::new(n));
        assert_eq!(fits(&start(1), INT4), Ok(()));
        assert_eq!(fits(&start(3_000_000_000), INT4), Err(Why::Start));
        assert_eq!(fits(&start(1), Takes::Nothing), Err(Why::Unbindable));
    }

    #[test]
    fn messages_name_the_parameter_its_generator_the_type_and_the_fix() {
        let int4 = Placeholder {
            type_name: "int4".into(),
            takes: INT4,
        };
        let wide = Generator::uniform(1, 99_999_999_999);
        let why = fits(&wide, INT4).unwrap_err();
        assert_eq!(
            explain("p", &wide, &int4, why),
            "parameter `p`, an int from 1 to 99999999999, goes to a placeholder of type int4, \
             and some of its values would not fit (int4 holds -2147483648 to 2147483647); draw \
             from min = 1 to max = 2147483647, or cast the placeholder to a wider type, like \
             `{p}::bigint`"
        );
        let numeric = Placeholder {
            type_name: "numeric".into(),
            takes: Takes::Nothing,
        };
        let message = explain("p", &wide, &numeric, Why::Unbindable);
        assert!(
            message.ends_with("like `{p}::bigint::numeric`"),
            "{message}"
        );
    }
}
