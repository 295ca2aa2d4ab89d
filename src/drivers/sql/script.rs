//! Transaction scripts: what a SQL job's connections run, the same for every backend.
//!
//! A [`Script`] is written in the backends' common SQL with `{param}` placeholders: the
//! built-in workloads make one (`super::builtin`), and so does a user's `custom` workload.
//! [`Plan::new`] compiles it for one backend's dialect (placeholders `$1` or `?`; what is
//! quoted, which holds no placeholder) into statement texts to prepare, transactions as steps
//! over those statements with their bind lists, and the operation names results use.

use rand::RngExt;

use super::params::{Draw, Generator};
use crate::measure::OpId;
use crate::workload::{Dialect, Isolation, placeholders};

/// How a dialect writes a bound parameter in statement text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholders {
    /// `$1`, `$2`, ... (PostgreSQL); a parameter used twice is bound once.
    Numbered,
    /// `?` for each use, bound in order (MySQL).
    Positional,
}

impl Placeholders {
    fn of(dialect: Dialect) -> Placeholders {
        match dialect {
            Dialect::Postgres => Placeholders::Numbered,
            Dialect::Mysql => Placeholders::Positional,
        }
    }
}

/// A transaction as written, before compiling.
#[derive(Debug)]
pub struct ScriptTransaction {
    pub name: String,
    pub weight: u32,
    /// Each statement's SQL, and the name its own histogram goes under (none: only the
    /// transaction is timed).
    pub statements: Vec<(String, Option<String>)>,
    /// Between BEGIN and COMMIT; otherwise each statement commits on its own.
    pub explicit: bool,
    /// The name of COMMIT's histogram, for explicit transactions timed by statement.
    pub commit_op: Option<String>,
}

/// Transactions and the parameter generators their statements name.
#[derive(Debug)]
pub struct Script {
    pub transactions: Vec<ScriptTransaction>,
    pub params: Vec<(String, Generator)>,
}

/// One statement of a transaction, compiled.
#[derive(Debug)]
pub struct Step {
    /// Index into [`Plan::statements`].
    pub statement: usize,
    /// Where its own latency is recorded, if it is timed alone.
    pub op: Option<OpId>,
    /// Parameters to bind, in placeholder order (indexes into [`Plan::params`]).
    pub bind: Vec<usize>,
}

#[derive(Debug)]
pub struct Transaction {
    pub op: OpId,
    pub steps: Vec<Step>,
    pub explicit: bool,
    pub commit_op: Option<OpId>,
    /// The parameters its statements use, each drawn once per run of the transaction.
    pub params: Vec<usize>,
}

/// A compiled script, shared read-only by every lane of a job.
#[derive(Debug)]
pub struct Plan {
    /// Statement texts in the backend's placeholder style, prepared on every connection.
    pub statements: Vec<String>,
    /// The same statements as the script wrote them, with their `{name}`s, for messages.
    pub written: Vec<String>,
    pub transactions: Vec<Transaction>,
    pub params: Vec<Generator>,
    /// The parameters' names, by the same index as [`Plan::params`].
    pub param_names: Vec<&'static str>,
    /// Operation names by [`OpId`]: transactions first, then timed statements.
    pub op_names: Vec<&'static str>,
    /// By [`OpId`], the transactions a timed statement or commit is timed inside.
    pub within: Vec<Vec<usize>>,
    cumulative: Vec<u64>,
    pub isolation: Option<Isolation>,
    pub retries: u32,
}

impl Plan {
    pub fn new(
        script: Script,
        dialect: Dialect,
        isolation: Option<Isolation>,
        retries: u32,
    ) -> Result<Plan, String> {
        let (names, params): (Vec<String>, Vec<Generator>) = script.params.into_iter().unzip();
        let mut op_names: Vec<String> =
            script.transactions.iter().map(|t| t.name.clone()).collect();
        let mut statements = Vec::new();
        let mut written = Vec::new();
        let mut transactions = Vec::new();
        for (i, txn) in script.transactions.iter().enumerate() {
            let mut steps = Vec::new();
            let mut used = Vec::new();
            for (sql, op) in &txn.statements {
                let (text, bind) = render(sql, dialect, &names)?;
                used.extend(bind.iter().copied());
                steps.push(Step {
                    statement: statements.len(),
                    op: op.as_ref().map(|name| add_op(&mut op_names, name)),
                    bind,
                });
                statements.push(text);
                written.push(sql.clone());
            }
            used.sort_unstable();
            used.dedup();
            transactions.push(Transaction {
                op: OpId(i as u8),
                steps,
                explicit: txn.explicit,
                commit_op: txn.commit_op.as_ref().map(|n| add_op(&mut op_names, n)),
                params: used,
            });
        }
        if op_names.len() > usize::from(u8::MAX) {
            return Err(format!(
                "the workload times {} operations (transactions and their statements); at \
                 most 255 fit",
                op_names.len()
            ));
        }
        let mut within = vec![Vec::new(); op_names.len()];
        for txn in &transactions {
            let inner = txn.steps.iter().filter_map(|s| s.op).chain(txn.commit_op);
            // A statement named like its own transaction is the same operation, not nested.
            for OpId(op) in inner.filter(|&op| op != txn.op) {
                let outer = &mut within[usize::from(op)];
                if !outer.contains(&usize::from(txn.op.0)) {
                    outer.push(usize::from(txn.op.0));
                }
            }
        }
        let cumulative = script
            .transactions
            .iter()
            .scan(0u64, |sum, t| {
                *sum += u64::from(t.weight);
                Some(*sum)
            })
            .collect();
        Ok(Plan {
            statements,
            written,
            transactions,
            params,
            // Like op names, they live for the whole run: a bind error is counted by one.
            param_names: names
                .into_iter()
                .map(|n| &*Box::leak(n.into_boxed_str()))
                .collect(),
            // Op names live for the whole run; a handful per job.
            op_names: op_names
                .into_iter()
                .map(|n| &*Box::leak(n.into_boxed_str()))
                .collect(),
            within,
            cumulative,
            isolation,
            retries,
        })
    }

    /// The next transaction, by weight.
    pub fn pick(&self, draw: &mut Draw) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1);
        let at = draw.rng.random_range(0..total);
        self.cumulative.partition_point(|&sum| sum <= at)
    }
}

fn add_op(names: &mut Vec<String>, name: &str) -> OpId {
    let index = names.iter().position(|n| n == name).unwrap_or_else(|| {
        names.push(name.to_owned());
        names.len() - 1
    });
    OpId(index as u8)
}

/// `sql` with its `{param}`s written as `dialect`'s placeholders, and the parameters to bind
/// in order. Quoted text and comments are left as they are.
fn render(sql: &str, dialect: Dialect, names: &[String]) -> Result<(String, Vec<usize>), String> {
    let mut text = String::with_capacity(sql.len());
    let mut bind: Vec<usize> = Vec::new();
    let mut last = 0;
    for (range, name) in placeholders(sql, dialect) {
        let param = names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| format!("statement `{sql}` uses `{{{name}}}`, which is no parameter"))?;
        text.push_str(&sql[last..range.start]);
        match Placeholders::of(dialect) {
            Placeholders::Numbered => {
                let number = match bind.iter().position(|&p| p == param) {
                    Some(k) => k + 1,
                    None => {
                        bind.push(param);
                        bind.len()
                    }
                };
                text.push_str(&format!("${number}"));
            }
            Placeholders::Positional => {
                bind.push(param);
                text.push('?');
            }
        }
        last = range.end;
    }
    text.push_str(&sql[last..]);
    Ok((text, bind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["aid".into(), "delta".into()]
    }

    #[test]
    fn numbered_placeholders_bind_a_repeated_parameter_once() {
        let sql = "UPDATE a SET b = b + {delta} WHERE aid = {aid} AND {delta} > 0";
        let (text, bind) = render(sql, Dialect::Postgres, &names()).unwrap();
        assert_eq!(text, "UPDATE a SET b = b + $1 WHERE aid = $2 AND $1 > 0");
        assert_eq!(bind, [1, 0]);
    }

    #[test]
    fn positional_placeholders_bind_every_use() {
        let sql = "UPDATE a SET b = b + {delta} WHERE aid = {aid} AND {delta} > 0";
        let (text, bind) = render(sql, Dialect::Mysql, &names()).unwrap();
        assert_eq!(text, "UPDATE a SET b = b + ? WHERE aid = ? AND ? > 0");
        assert_eq!(bind, [1, 0, 1]);
    }

    #[test]
    fn quoted_text_and_comments_keep_their_braces() {
        let sql = "SELECT '{aid}', \"{delta}\" FROM a /* {aid} */ WHERE aid = {aid} -- {delta}";
        let (text, bind) = render(sql, Dialect::Postgres, &names()).unwrap();
        let kept = "SELECT '{aid}', \"{delta}\" FROM a /* {aid} */ WHERE aid = $1 -- {delta}";
        assert_eq!(text, kept);
        assert_eq!(bind, [0]);
        let sql = "SELECT \"{aid}\", `{delta}` FROM a # {aid}\nWHERE aid = {aid}";
        let (text, bind) = render(sql, Dialect::Mysql, &names()).unwrap();
        assert_eq!(
            text,
            "SELECT \"{aid}\", `{delta}` FROM a # {aid}\nWHERE aid = ?"
        );
        assert_eq!(bind, [0]);
    }
}
