//! A JsonLogic condition on submission answers (`jsonContent`) translated to SQL for either
//! backend. Supported: `==`, `!=`, `<`, `<=`, `>`, `>=`, `and`, `or`, `!`, `in` (value in a
//! list), with `{"var": "question"}` on one side. Question names are bound, never spliced.

use iaso_db::{Backend, Sql};
use serde_json::Value;

const MAX_NODES: usize = 200;

fn var_expr(q: &mut Sql, name: &str, backend: Backend, numeric: bool) -> Result<(), String> {
    if name.is_empty() || name.len() > 200 {
        return Err("a variable name is empty or too long".into());
    }
    match backend {
        Backend::Sqlite => {
            let path = format!("$.\"{}\"", name.replace('"', ""));
            if numeric {
                q.push("CAST(json_extract(i.json, ")
                    .bind(path)
                    .push(") AS REAL)");
            } else {
                q.push("CAST(json_extract(i.json, ")
                    .bind(path)
                    .push(") AS TEXT)");
            }
        }
        Backend::Postgres => {
            if numeric {
                q.push("(CASE WHEN (i.json->>")
                    .bind(name.to_string())
                    .push(") ~ '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$' THEN CAST(i.json->>")
                    .bind(name.to_string())
                    .push(" AS DOUBLE PRECISION) END)");
            } else {
                q.push("(i.json->>").bind(name.to_string()).push(")");
            }
        }
    }
    Ok(())
}

fn literal(q: &mut Sql, v: &Value) -> Result<bool, String> {
    match v {
        Value::Number(n) => {
            q.bind(n.as_f64().ok_or("invalid number")?);
            Ok(true)
        }
        Value::String(s) => {
            q.bind(s.clone());
            Ok(false)
        }
        Value::Bool(b) => {
            q.bind(if *b { "true" } else { "false" });
            Ok(false)
        }
        _ => Err(format!("unsupported value {v}")),
    }
}

fn var_name(v: &Value) -> Option<&str> {
    v.get("var").and_then(Value::as_str)
}

fn walk(q: &mut Sql, logic: &Value, backend: Backend, budget: &mut usize) -> Result<(), String> {
    if *budget == 0 {
        return Err("the condition is too large".into());
    }
    *budget -= 1;
    let obj = logic
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or("each condition must be an object with one operator")?;
    let (op, args) = obj.iter().next().ok_or("empty condition")?;
    let args: Vec<&Value> = match args {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    match op.as_str() {
        "and" | "or" => {
            if args.is_empty() {
                return Err(format!("{op} needs conditions"));
            }
            q.push("(");
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    q.push(if op == "and" { " AND " } else { " OR " });
                }
                walk(q, a, backend, budget)?;
            }
            q.push(")");
        }
        "!" => {
            let a = args.first().ok_or("! needs a condition")?;
            q.push("NOT (");
            walk(q, a, backend, budget)?;
            q.push(")");
        }
        "==" | "!=" | "<" | "<=" | ">" | ">=" => {
            let [a, b] = args[..] else {
                return Err(format!("{op} needs two operands"));
            };
            let (name, value, flipped) = match (var_name(a), var_name(b)) {
                (Some(n), None) => (n, b, false),
                (None, Some(n)) => (n, a, true),
                _ => return Err(format!("{op} needs one variable and one value")),
            };
            let numeric = value.is_number();
            let sql_op = match (op.as_str(), flipped) {
                ("==", _) => "=",
                ("!=", _) => "<>",
                ("<", false) | (">", true) => "<",
                ("<=", false) | (">=", true) => "<=",
                (">", false) | ("<", true) => ">",
                _ => ">=",
            };
            q.push("(");
            var_expr(q, name, backend, numeric)?;
            q.push(&format!(" {sql_op} "));
            literal(q, value)?;
            q.push(")");
        }
        "in" => {
            let [a, b] = args[..] else {
                return Err("in needs two operands".into());
            };
            let name = var_name(a).ok_or("in needs a variable first")?;
            let list = b.as_array().ok_or("in needs a list of values")?;
            if list.is_empty() {
                q.push("(1 = 0)");
                return Ok(());
            }
            q.push("(");
            var_expr(q, name, backend, false)?;
            q.push(" IN (");
            for (i, v) in list.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                match v {
                    Value::Number(n) => {
                        q.bind(n.to_string());
                    }
                    other => {
                        literal(q, other)?;
                    }
                }
            }
            q.push("))");
        }
        other => return Err(format!("unsupported operator {other:?}")),
    }
    Ok(())
}

/// ` AND (...)` for the submission query (alias `i`).
pub fn to_sql(logic: &Value, backend: Backend) -> Result<Sql, String> {
    let mut q = Sql::new(" AND ");
    let mut budget = MAX_NODES;
    walk(&mut q, logic, backend, &mut budget)?;
    Ok(q)
}
