//! The evaluation tree a condition compiles to.
//!
//! It is what [`compile`](super::compile) produces and what the evaluator
//! walks: variables are already resolved to [`Path`]s into the activation,
//! regexes are compiled, and the depth is bounded, so evaluating it needs no
//! lookup by name and cannot exhaust the stack.

/// A compiled condition.
#[derive(Debug)]
pub struct Program {
    pub(crate) root: Node,
}

/// A node of the evaluation tree.
#[derive(Debug)]
pub(crate) enum Node {
    Lit(Lit),
    Path(Path),
    /// The variable of the `n`-th enclosing comprehension, outermost first.
    Local(usize),
    Select(Box<Node>, Box<str>),
    Has(Box<Node>, Box<str>),
    Index(Box<Node>, Box<Node>),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Arith(Arith, Box<Node>, Box<Node>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    Size(Box<Node>),
    Str(StrFn, Box<Node>, Box<Node>),
    Matches(Box<Node>, Box<regex::Regex>),
    Convert(Conv, Box<Node>),
    Loop(Box<Loop>),
}

#[derive(Debug)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(Box<str>),
}

/// A variable of the activation, or a path into one resolved at compile time.
#[derive(Debug)]
pub(crate) enum Path {
    Principal,
    PrincipalId,
    PrincipalKind,
    PrincipalRoles,
    PrincipalAttrs,
    Tenant,
    Session,
    Agent,
    Tool,
    ToolName,
    ToolCapability,
    ToolRisk,
    ToolConsequential,
    Intervention,
    Action,
    Target,
    Content,
    Source,
    Args,
    Arg(Box<str>),
    Context,
    ContextKey(Box<str>),
    Scan,
    Provenance,
    ProvenanceArgs,
    ProvenanceArg(Box<str>),
    Limits,
    Limit(Box<str>),
    Now,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum StrFn {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Conv {
    Int,
    UInt,
    Double,
    String,
}

/// A macro over a list (or a map's keys), its variable bound to slot `slot`.
#[derive(Debug)]
pub(crate) struct Loop {
    pub(crate) range: Node,
    pub(crate) slot: usize,
    pub(crate) kind: LoopKind,
}

#[derive(Debug)]
pub(crate) enum LoopKind {
    Exists(Node),
    All(Node),
    ExistsOne(Node),
    /// `map(x, f)`, `map(x, p, f)` and `filter(x, p)` (which maps `x` to itself).
    Map {
        guard: Option<Node>,
        item: Node,
    },
}
