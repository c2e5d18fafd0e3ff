//! Lowering a parsed CEL expression into Ward's evaluation tree.
//!
//! The `cel` crate parses the source and expands the standard macros. This
//! module walks its AST once, at bundle load, and:
//!
//! - checks every variable and field path against the declared [`Shape`],
//!   so a typo such as `args.amuont` fails the load instead of every request;
//! - resolves paths into the request to direct lookups ([`Path`]), so the
//!   evaluator never searches for a variable by name;
//! - compiles the regex of each `matches()` once;
//! - rejects anything outside the supported subset with an error naming it,
//!   and expressions nested deeper than [`MAX_DEPTH`], so evaluation cannot
//!   exhaust the stack.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;

use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue, SourceInfo,
};

use super::node::{Arith, Cmp, Conv, Lit, Loop, LoopKind, Node, Path, Program, StrFn};
use super::CelError;
use crate::shape::Shape;
use crate::suggest::suggest;

/// The deepest nesting of sub-expressions a condition may have.
pub(crate) const MAX_DEPTH: usize = 64;

/// The longest condition source accepted, in bytes. Conditions are short; the
/// bound caps the parser's work and, with [`PARSER_STACK`], its stack depth.
pub(crate) const MAX_SOURCE_LEN: usize = 4096;

/// The stack of the thread that parses. The `cel` crate's ANTLR parser
/// needs about 150 KiB of stack per level of bracket nesting in debug builds
/// (its own limit stops at about 96 levels), far more than the 2 MiB of a
/// typical worker thread: a condition of a dozen nested parentheses would
/// overflow it. Parsing runs at load only, so a short-lived thread with room
/// to spare is the cheap way to make any input safe.
const PARSER_STACK: usize = 64 << 20;

/// Parses `source` and compiles it against `shape`, the shape of the root
/// variables (see [`Shape::root`]).
pub(crate) fn compile(source: &str, shape: &Shape) -> Result<Program, CelError> {
    if source.len() > MAX_SOURCE_LEN {
        return Err(CelError::new(
            format!("condition is longer than {MAX_SOURCE_LEN} bytes"),
            None,
        ));
    }
    if ON_PARSER_STACK.with(Cell::get) {
        // A panic in the parser refuses the condition, like any other parse
        // failure, and leaves the other conditions of the bundle to compile.
        return std::panic::catch_unwind(AssertUnwindSafe(|| compile_here(source, shape)))
            .unwrap_or_else(|_| Err(parser_failed()));
    }
    on_parser_stack(|| compile(source, shape)).and_then(|r| r)
}

thread_local! {
    static ON_PARSER_STACK: Cell<bool> = const { Cell::new(false) };
}

fn parser_failed() -> CelError {
    CelError::new("the CEL parser failed on this condition", None)
}

/// Runs `work` on a short-lived thread with a stack roomy enough for the
/// parser, so a bundle of many conditions pays for one thread, not one each.
pub(crate) fn on_parser_stack<R: Send>(work: impl FnOnce() -> R + Send) -> Result<R, CelError> {
    std::thread::scope(|scope| {
        let parser = std::thread::Builder::new()
            .name("ward-cel-parse".to_owned())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || {
                ON_PARSER_STACK.with(|flag| flag.set(true));
                work()
            })
            .map_err(|e| CelError::new(format!("cannot start the CEL parser: {e}"), None))?;
        parser.join().map_err(|_| parser_failed())
    })
}

/// [`compile`] on the current thread. The deep parse tree and AST are built
/// and dropped here; the returned tree is at most [`MAX_DEPTH`] deep.
fn compile_here(source: &str, shape: &Shape) -> Result<Program, CelError> {
    let (expr, info) = cel::parser::Parser::default()
        .parse_with_source_info(source)
        .map_err(|errors| parse_error(source, &errors))?;
    let mut lower = Lower {
        info: &info,
        root: shape,
        scopes: Vec::new(),
        depth: 0,
    };
    let (root, _) = lower.expr(&expr)?;
    Ok(Program { root })
}

fn parse_error(source: &str, errors: &cel::ParseErrors) -> CelError {
    let Some(first) = errors.errors.first() else {
        return CelError::new("invalid condition", None);
    };
    let (line, column) = first.pos;
    let offset = line_column_offset(source, line, column);
    let message = first
        .msg
        .strip_prefix("Syntax error: ")
        .unwrap_or(&first.msg);
    CelError::new(format!("syntax error: {message}"), offset)
}

/// The byte offset of 1-based `line` and `column` (in characters).
fn line_column_offset(source: &str, line: isize, column: isize) -> Option<usize> {
    let line = usize::try_from(line).ok()?.checked_sub(1)?;
    let column = usize::try_from(column).ok()?.saturating_sub(1);
    let mut start = 0;
    for (i, text) in source.split_inclusive('\n').enumerate() {
        if i == line {
            let within = text
                .char_indices()
                .nth(column)
                .map_or(text.len(), |(at, _)| at);
            return Some(start + within);
        }
        start += text.len();
    }
    Some(source.len())
}

struct Lower<'s> {
    info: &'s SourceInfo,
    root: &'s Shape,
    /// Comprehension variables in scope, outermost first.
    scopes: Vec<(String, Shape)>,
    depth: usize,
}

/// A lowered expression with its declared shape.
type Lowered = (Node, Shape);

impl Lower<'_> {
    fn error(&self, id: u64, message: impl Into<String>) -> CelError {
        let offset = self
            .info
            .offset_for(id)
            .and_then(|(start, _)| usize::try_from(start).ok());
        CelError::new(message, offset)
    }

    fn unsupported(&self, id: u64, what: &str) -> CelError {
        self.error(id, format!("unsupported CEL construct `{what}`"))
    }

    fn expr(&mut self, e: &IdedExpr) -> Result<Lowered, CelError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                e.id,
                format!("condition is nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let lowered = self.expr_inner(e);
        self.depth -= 1;
        lowered
    }

    fn boxed(&mut self, e: &IdedExpr) -> Result<Box<Node>, CelError> {
        Ok(Box::new(self.expr(e)?.0))
    }

    fn expr_inner(&mut self, e: &IdedExpr) -> Result<Lowered, CelError> {
        match &e.expr {
            Expr::Literal(lit) => self.literal(e.id, lit),
            Expr::Ident(name) => self.ident(e.id, name),
            Expr::Select(select) => {
                let (operand, shape) = self.expr(&select.operand)?;
                let field = select.field.as_str();
                let field_shape = self.field_shape(e.id, &select.operand, &shape, field)?;
                if select.test {
                    return Ok((Node::Has(Box::new(operand), field.into()), Shape::Bool));
                }
                Ok((fuse(operand, field), field_shape))
            }
            Expr::List(list) => {
                if !list.optional_indices.is_empty() {
                    return Err(self.unsupported(e.id, "optional list element"));
                }
                let items = list
                    .elements
                    .iter()
                    .map(|item| Ok(self.expr(item)?.0))
                    .collect::<Result<Vec<_>, CelError>>()?;
                Ok((Node::List(items), Shape::List(Box::new(Shape::Any))))
            }
            Expr::Map(map) => {
                let mut entries = Vec::with_capacity(map.entries.len());
                for entry in &map.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(m) if !m.optional => {
                            entries.push((self.expr(&m.key)?.0, self.expr(&m.value)?.0));
                        }
                        _ => return Err(self.unsupported(entry.id, "optional map entry")),
                    }
                }
                Ok((Node::Map(entries), Shape::Any))
            }
            Expr::Struct(s) => Err(self.unsupported(e.id, &format!("{} {{...}}", s.type_name))),
            Expr::Comprehension(c) => self.comprehension(e.id, c),
            Expr::Call(call) => self.call(e.id, call),
            Expr::Unspecified => Err(self.error(e.id, "invalid expression")),
        }
    }

    fn literal(&self, id: u64, lit: &LiteralValue) -> Result<Lowered, CelError> {
        Ok(match lit {
            LiteralValue::Null => (Node::Lit(Lit::Null), Shape::Any),
            LiteralValue::Boolean(b) => (Node::Lit(Lit::Bool(*b.inner())), Shape::Bool),
            LiteralValue::Int(i) => (Node::Lit(Lit::Int(*i.inner())), Shape::Int),
            LiteralValue::UInt(u) => (Node::Lit(Lit::UInt(*u.inner())), Shape::Number),
            LiteralValue::Double(d) => (Node::Lit(Lit::Double(*d.inner())), Shape::Number),
            LiteralValue::String(s) => (Node::Lit(Lit::Str(s.inner().into())), Shape::String),
            LiteralValue::Bytes(_) => return Err(self.unsupported(id, "bytes literal")),
        })
    }

    fn ident(&self, id: u64, name: &str) -> Result<Lowered, CelError> {
        if let Some((slot, (_, shape))) = self
            .scopes
            .iter()
            .enumerate()
            .rev()
            .find(|(_, (var, _))| var == name)
        {
            return Ok((Node::Local(slot), shape.clone()));
        }
        let Some(shape) = self.root.field(name) else {
            let mut message = format!("undeclared variable `{name}`");
            if let Shape::Object(fields) = self.root {
                if let Some(close) = suggest(name, fields.keys().map(String::as_str)) {
                    message.push_str(&format!("; did you mean `{close}`?"));
                }
            }
            return Err(self.error(id, message));
        };
        let path = match name {
            "principal" => Path::Principal,
            "tenant" => Path::Tenant,
            "session" => Path::Session,
            "agent" => Path::Agent,
            "tool" => Path::Tool,
            "intervention" => Path::Intervention,
            "action" => Path::Action,
            "target" => Path::Target,
            "content" => Path::Content,
            "source" => Path::Source,
            "args" => Path::Args,
            "context" => Path::Context,
            "scan" => Path::Scan,
            "provenance" => Path::Provenance,
            "limits" => Path::Limits,
            "now" => Path::Now,
            _ => return Err(self.error(id, format!("variable `{name}` has no value in Ward"))),
        };
        Ok((Node::Path(path), shape.clone()))
    }

    /// The declared shape of `field` of `operand`, or the error for reading
    /// an undeclared field.
    fn field_shape(
        &self,
        id: u64,
        operand: &IdedExpr,
        shape: &Shape,
        field: &str,
    ) -> Result<Shape, CelError> {
        if let Some(found) = shape.field(field) {
            return Ok(found.clone());
        }
        let path = path_text(operand).unwrap_or_else(|| "(expression)".to_owned());
        Err(match shape {
            Shape::Object(fields) => {
                let mut message = format!("undeclared field `{path}.{field}`");
                if let Some(close) = suggest(field, fields.keys().map(String::as_str)) {
                    message.push_str(&format!("; did you mean `{close}`?"));
                }
                self.error(id, message)
            }
            other => self.error(
                id,
                format!(
                    "`{path}` is a {} and has no field `{field}`",
                    shape_name(other)
                ),
            ),
        })
    }

    fn comprehension(&mut self, id: u64, c: &ComprehensionExpr) -> Result<Lowered, CelError> {
        if c.iter_var2.is_some() {
            return Err(self.unsupported(id, "two-variable comprehension"));
        }
        let (range, range_shape) = self.expr(&c.iter_range)?;
        let var_shape = match &range_shape {
            Shape::List(item) => (**item).clone(),
            Shape::Map(_) | Shape::Object(_) => Shape::String,
            Shape::Any => Shape::Any,
            other => {
                return Err(self.error(
                    c.iter_range.id,
                    format!("cannot iterate over a {}", shape_name(other)),
                ))
            }
        };
        let accu = c.accu_var.as_str();
        let shape = recognize(c, accu).ok_or_else(|| self.unsupported(id, "comprehension"))?;
        let slot = self.scopes.len();
        self.scopes.push((c.iter_var.clone(), var_shape));
        let kind = self.loop_kind(shape);
        self.scopes.pop();
        let (kind, result_shape) = kind?;
        let node = Node::Loop(Box::new(Loop { range, slot, kind }));
        Ok((node, result_shape))
    }

    fn loop_kind(&mut self, shape: MacroShape<'_>) -> Result<(LoopKind, Shape), CelError> {
        let any_list = || Shape::List(Box::new(Shape::Any));
        Ok(match shape {
            MacroShape::Exists(p) => (LoopKind::Exists(self.expr(p)?.0), Shape::Bool),
            MacroShape::All(p) => (LoopKind::All(self.expr(p)?.0), Shape::Bool),
            MacroShape::ExistsOne(p) => (LoopKind::ExistsOne(self.expr(p)?.0), Shape::Bool),
            MacroShape::Map(guard, item) => {
                let guard = match guard {
                    Some(g) => Some(self.expr(g)?.0),
                    None => None,
                };
                let item = self.expr(item)?.0;
                (LoopKind::Map { guard, item }, any_list())
            }
        })
    }

    fn call(&mut self, id: u64, call: &CallExpr) -> Result<Lowered, CelError> {
        let name = call.func_name.as_str();
        let target = call.target.as_deref();
        match (name, target, call.args.as_slice()) {
            (_, None, [a, b]) if binary(name).is_some() => {
                let Some(make) = binary(name) else {
                    return Err(self.unsupported(id, name));
                };
                let (a, b) = (self.boxed(a)?, self.boxed(b)?);
                let node = make(a, b);
                let shape = match node {
                    Node::Arith(..) => Shape::Any,
                    _ => Shape::Bool,
                };
                Ok((node, shape))
            }
            ("_[_]", None, [container, key]) => {
                let (c, shape) = self.expr(container)?;
                let item_shape = match (&shape, &key.expr) {
                    (Shape::List(item), _) => (**item).clone(),
                    (Shape::Object(_) | Shape::Map(_), Expr::Literal(LiteralValue::String(s))) => {
                        self.field_shape(id, container, &shape, s.inner())?
                    }
                    (Shape::Map(item), _) => (**item).clone(),
                    _ => Shape::Any,
                };
                Ok((Node::Index(Box::new(c), self.boxed(key)?), item_shape))
            }
            ("_?_:_", None, [c, t, f]) => {
                let node = Node::Cond(self.boxed(c)?, self.boxed(t)?, self.boxed(f)?);
                Ok((node, Shape::Any))
            }
            ("!_", None, [a]) => Ok((Node::Not(self.boxed(a)?), Shape::Bool)),
            ("-_", None, [a]) => Ok((Node::Neg(self.boxed(a)?), Shape::Any)),
            ("size", None, [a]) | ("size", Some(a), []) => {
                Ok((Node::Size(self.boxed(a)?), Shape::Int))
            }
            ("contains" | "startsWith" | "endsWith", Some(s), [arg]) => {
                let f = match name {
                    "contains" => StrFn::Contains,
                    "startsWith" => StrFn::StartsWith,
                    _ => StrFn::EndsWith,
                };
                Ok((Node::Str(f, self.boxed(s)?, self.boxed(arg)?), Shape::Bool))
            }
            ("matches", None, [s, pattern]) | ("matches", Some(s), [pattern]) => {
                let Expr::Literal(LiteralValue::String(p)) = &pattern.expr else {
                    return Err(self.error(
                        pattern.id,
                        "the pattern of `matches()` must be a string literal",
                    ));
                };
                let regex = regex::Regex::new(p.inner()).map_err(|err| {
                    self.error(pattern.id, format!("invalid regex `{}`: {err}", p.inner()))
                })?;
                Ok((Node::Matches(self.boxed(s)?, Box::new(regex)), Shape::Bool))
            }
            ("int" | "uint" | "double" | "string", None, [a]) => {
                let (conv, shape) = match name {
                    "int" => (Conv::Int, Shape::Int),
                    "uint" => (Conv::UInt, Shape::Number),
                    "double" => (Conv::Double, Shape::Number),
                    _ => (Conv::String, Shape::String),
                };
                Ok((Node::Convert(conv, self.boxed(a)?), shape))
            }
            _ => {
                let shown = match (target, name.starts_with('_') || name.starts_with('@')) {
                    (_, true) => name.to_owned(),
                    (Some(_), false) => format!(".{name}()"),
                    (None, false) => format!("{name}()"),
                };
                Err(self.unsupported(id, &shown))
            }
        }
    }
}

type MakeBinary = fn(Box<Node>, Box<Node>) -> Node;

/// The constructor of the node for a binary operator.
fn binary(name: &str) -> Option<MakeBinary> {
    Some(match name {
        "_&&_" => Node::And,
        "_||_" => Node::Or,
        "@in" => Node::In,
        "_+_" => |a, b| Node::Arith(Arith::Add, a, b),
        "_-_" => |a, b| Node::Arith(Arith::Sub, a, b),
        "_*_" => |a, b| Node::Arith(Arith::Mul, a, b),
        "_/_" => |a, b| Node::Arith(Arith::Div, a, b),
        "_%_" => |a, b| Node::Arith(Arith::Rem, a, b),
        "_==_" => |a, b| Node::Cmp(Cmp::Eq, a, b),
        "_!=_" => |a, b| Node::Cmp(Cmp::Ne, a, b),
        "_<_" => |a, b| Node::Cmp(Cmp::Lt, a, b),
        "_<=_" => |a, b| Node::Cmp(Cmp::Le, a, b),
        "_>_" => |a, b| Node::Cmp(Cmp::Gt, a, b),
        "_>=_" => |a, b| Node::Cmp(Cmp::Ge, a, b),
        _ => return None,
    })
}

/// Folds `operand.field` into a direct path when `operand` is one.
fn fuse(operand: Node, field: &str) -> Node {
    let fused = match (&operand, field) {
        (Node::Path(Path::Principal), "id") => Path::PrincipalId,
        (Node::Path(Path::Principal), "kind") => Path::PrincipalKind,
        (Node::Path(Path::Principal), "roles") => Path::PrincipalRoles,
        (Node::Path(Path::Principal), "attrs") => Path::PrincipalAttrs,
        (Node::Path(Path::Tool), "name") => Path::ToolName,
        (Node::Path(Path::Tool), "capability") => Path::ToolCapability,
        (Node::Path(Path::Tool), "risk") => Path::ToolRisk,
        (Node::Path(Path::Tool), "consequential") => Path::ToolConsequential,
        (Node::Path(Path::Args), name) => Path::Arg(name.into()),
        (Node::Path(Path::Context), name) => Path::ContextKey(name.into()),
        (Node::Path(Path::Provenance), "args") => Path::ProvenanceArgs,
        (Node::Path(Path::ProvenanceArgs), name) => Path::ProvenanceArg(name.into()),
        (Node::Path(Path::Limits), name) => Path::Limit(name.into()),
        _ => return Node::Select(Box::new(operand), field.into()),
    };
    Node::Path(fused)
}

/// The standard macros, as the `cel` parser expands them.
enum MacroShape<'e> {
    Exists(&'e IdedExpr),
    All(&'e IdedExpr),
    ExistsOne(&'e IdedExpr),
    Map(Option<&'e IdedExpr>, &'e IdedExpr),
}

/// Which macro expansion `c` is, from its loop step (see the `cel` crate's
/// `parser/macros.rs`); `None` for any other comprehension.
fn recognize<'e>(c: &'e ComprehensionExpr, accu: &str) -> Option<MacroShape<'e>> {
    let is_accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if n == accu);
    let call = |e: &'e IdedExpr, name: &str| match &e.expr {
        Expr::Call(c) if c.func_name == name && c.target.is_none() => Some(c.args.as_slice()),
        _ => None,
    };
    let append = |e: &'e IdedExpr| match call(e, "_+_")? {
        [acc, item] if is_accu(acc) => match &item.expr {
            Expr::List(l) if l.optional_indices.is_empty() => match l.elements.as_slice() {
                [one] => Some(one),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    let init = &c.accu_init.expr;
    let step = &c.loop_step;
    if let Some([acc, p]) = call(step, "_||_") {
        if is_accu(acc) && matches!(init, Expr::Literal(LiteralValue::Boolean(b)) if !*b.inner()) {
            return Some(MacroShape::Exists(p));
        }
    }
    if let Some([acc, p]) = call(step, "_&&_") {
        if is_accu(acc) && matches!(init, Expr::Literal(LiteralValue::Boolean(b)) if *b.inner()) {
            return Some(MacroShape::All(p));
        }
    }
    if let Some(item) = append(step) {
        return Some(MacroShape::Map(None, item));
    }
    if let Some([p, then, otherwise]) = call(step, "_?_:_") {
        if !is_accu(otherwise) {
            return None;
        }
        if let Some(item) = append(then) {
            return Some(MacroShape::Map(Some(p), item));
        }
        if let Some([acc, one]) = call(then, "_+_") {
            let is_one =
                matches!(&one.expr, Expr::Literal(LiteralValue::Int(i)) if *i.inner() == 1);
            if is_accu(acc) && is_one {
                return Some(MacroShape::ExistsOne(p));
            }
        }
    }
    None
}

/// The dotted text of a path expression, such as `args.amount`.
fn path_text(e: &IdedExpr) -> Option<String> {
    match &e.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(s) if !s.test => Some(format!("{}.{}", path_text(&s.operand)?, s.field)),
        _ => None,
    }
}

fn shape_name(shape: &Shape) -> &'static str {
    match shape {
        Shape::Any => "value",
        Shape::String => "string",
        Shape::Int => "int",
        Shape::Number => "number",
        Shape::Bool => "bool",
        Shape::List(_) => "list",
        Shape::Map(_) | Shape::Object(_) => "map",
    }
}
