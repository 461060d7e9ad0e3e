//! [`Expr`]: an expression graph as data, so that proptest can generate, shrink and print it,
//! and a test can record it on a tape with [`Expr::eval`].
//!
//! Each variant is one tapegrad op, and `Display` prints the expression as a person would write
//! it (`tanh((x0 * x1) + exp(x0))`); `Debug` prints the same, because that is what proptest
//! shows for a failing case. This file also bounds the values an expression can take; which
//! expressions are generated, and how they avoid kinks and poles, is `strategy.rs`'s business.

use crate::var::Var;
use std::fmt;

/// An expression over inputs `x0, x1, …`, one tapegrad op per node.
#[derive(Clone, PartialEq)]
pub enum Expr {
    /// The input `x{i}`.
    Input(usize),
    /// A constant; recorded as the scalar form of the op that reads it (`x + 1.5` records
    /// one `add` node), or as a constant leaf when no op reads it.
    Const(f64),
    /// `-a`
    Neg(Box<Expr>),
    /// `a + b` (broadcast)
    Add(Box<Expr>, Box<Expr>),
    /// `a - b` (broadcast)
    Sub(Box<Expr>, Box<Expr>),
    /// `a * b` (broadcast)
    Mul(Box<Expr>, Box<Expr>),
    /// `a / b` (broadcast)
    Div(Box<Expr>, Box<Expr>),
    /// `square(a)`: `a` recorded once and multiplied by itself, so one node is read twice.
    Square(Box<Expr>),
    /// `tanh(a)`
    Tanh(Box<Expr>),
    /// `sigmoid(a)`
    Sigmoid(Box<Expr>),
    /// `exp(a)`
    Exp(Box<Expr>),
    /// `ln(a)`
    Ln(Box<Expr>),
    /// `sqrt(a)`
    Sqrt(Box<Expr>),
    /// `powf(a, p)`
    Powf(Box<Expr>, f64),
    /// `mean(a)`: the mean of all elements, a scalar that broadcasts back against the others.
    Mean(Box<Expr>),
}

impl Expr {
    /// Records the expression on the tape of `vars`, `x{i}` being `vars[i]`, and returns its
    /// output.
    ///
    /// # Panics
    ///
    /// If the expression reads an input `x{i}` with `i ≥ vars.len()`, if it is a lone constant
    /// and `vars` is empty (no tape to record it on), or if the inputs' shapes do not broadcast
    /// together.
    pub fn eval<'t>(&self, vars: &[Var<'t>]) -> Var<'t> {
        let unary = |a: &Expr| a.eval(vars);
        match self {
            Expr::Input(i) => *vars.get(*i).unwrap_or_else(|| {
                panic!(
                    "Expr::eval: x{i} is read, but {} inputs were given",
                    vars.len()
                )
            }),
            Expr::Const(c) => {
                let var = vars
                    .first()
                    .expect("Expr::eval: a lone constant needs an input's tape to live on");
                var.tape().constant(*c)
            }
            Expr::Neg(a) => -unary(a),
            Expr::Add(a, b) => binary(a, b, vars, |a, b| a + b, |a, c| a + c, |c, b| c + b),
            Expr::Sub(a, b) => binary(a, b, vars, |a, b| a - b, |a, c| a - c, |c, b| c - b),
            Expr::Mul(a, b) => binary(a, b, vars, |a, b| a * b, |a, c| a * c, |c, b| c * b),
            Expr::Div(a, b) => binary(a, b, vars, |a, b| a / b, |a, c| a / c, |c, b| c / b),
            Expr::Square(a) => {
                let a = unary(a);
                a * a
            }
            Expr::Tanh(a) => unary(a).tanh(),
            Expr::Sigmoid(a) => unary(a).sigmoid(),
            Expr::Exp(a) => unary(a).exp(),
            Expr::Ln(a) => unary(a).ln(),
            Expr::Sqrt(a) => unary(a).sqrt(),
            Expr::Powf(a, p) => unary(a).powf(*p),
            Expr::Mean(a) => unary(a).mean(),
        }
    }

    /// The number of ops on the longest path from the output to a leaf (0 for a leaf).
    pub fn depth(&self) -> usize {
        self.children().map(|c| 1 + c.depth()).max().unwrap_or(0)
    }

    /// The number of nodes of the expression, leaves included.
    pub fn size(&self) -> usize {
        1 + self.children().map(Expr::size).sum::<usize>()
    }

    fn children(&self) -> impl Iterator<Item = &Expr> {
        let (first, second): (Option<&Expr>, Option<&Expr>) = match self {
            Expr::Input(_) | Expr::Const(_) => (None, None),
            Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
                (Some(a), Some(b))
            }
            Expr::Neg(a)
            | Expr::Square(a)
            | Expr::Tanh(a)
            | Expr::Sigmoid(a)
            | Expr::Exp(a)
            | Expr::Ln(a)
            | Expr::Sqrt(a)
            | Expr::Powf(a, _)
            | Expr::Mean(a) => (Some(a), None),
        };
        first.into_iter().chain(second)
    }

    /// An upper bound on `|value|` of every element, when every input element has magnitude
    /// at most `input`; infinite where the expression can blow up (a pole, a log of 0).
    pub fn bound(&self, input: f64) -> f64 {
        let b = |e: &Expr| e.bound(input);
        match self {
            Expr::Input(_) => input,
            Expr::Const(c) => c.abs(),
            Expr::Neg(a) | Expr::Mean(a) => b(a),
            Expr::Add(x, y) | Expr::Sub(x, y) => b(x) + b(y),
            Expr::Mul(x, y) => b(x) * b(y),
            Expr::Div(x, y) => b(x) / y.floor(input),
            Expr::Square(a) => b(a) * b(a),
            Expr::Tanh(_) | Expr::Sigmoid(_) => 1.0,
            Expr::Exp(a) => b(a).exp(),
            Expr::Ln(a) => a.floor(input).ln().abs().max(b(a).ln().abs()),
            Expr::Sqrt(a) => b(a).sqrt(),
            Expr::Powf(a, p) if *p >= 0.0 => b(a).powf(*p),
            Expr::Powf(a, p) => a.floor(input).powf(*p),
        }
    }

    /// A lower bound on `|value|` (0 where the expression can reach 0), for the forms that
    /// appear under a division, a log or a negative power.
    fn floor(&self, input: f64) -> f64 {
        match self {
            Expr::Const(c) => c.abs(),
            Expr::Add(x, y) => match (x.as_ref(), y.as_ref()) {
                (Expr::Square(_), Expr::Const(c)) if *c > 0.0 => *c,
                _ => 0.0,
            },
            Expr::Exp(a) => (-a.bound(input)).exp(),
            Expr::Sigmoid(a) => 1.0 / (1.0 + a.bound(input).exp()),
            _ => 0.0,
        }
    }

    /// Whether `Display` needs parentheses around this expression as an operand of `+ - * /`.
    fn is_compound_operand(&self) -> bool {
        match self {
            Expr::Add(..) | Expr::Sub(..) | Expr::Mul(..) | Expr::Div(..) | Expr::Neg(_) => true,
            Expr::Const(c) => c.is_sign_negative(),
            _ => false,
        }
    }
}

/// Records `a ∘ b`, with the scalar form of the op when one side is a constant.
fn binary<'t>(
    a: &Expr,
    b: &Expr,
    vars: &[Var<'t>],
    var_var: fn(Var<'t>, Var<'t>) -> Var<'t>,
    var_const: fn(Var<'t>, f64) -> Var<'t>,
    const_var: fn(f64, Var<'t>) -> Var<'t>,
) -> Var<'t> {
    match (a, b) {
        (_, Expr::Const(c)) => var_const(a.eval(vars), *c),
        (Expr::Const(c), _) => const_var(*c, b.eval(vars)),
        _ => var_var(a.eval(vars), b.eval(vars)),
    }
}

/// An operand of `+ - * /`: in parentheses if it is itself compound.
struct Operand<'a>(&'a Expr);

impl fmt::Display for Operand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_compound_operand() {
            write!(f, "({})", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let infix =
            |f: &mut fmt::Formatter<'_>, a, op, b| write!(f, "{} {op} {}", Operand(a), Operand(b));
        match self {
            Expr::Input(i) => write!(f, "x{i}"),
            Expr::Const(c) => write!(f, "{c}"),
            Expr::Neg(a) => write!(f, "-{}", Operand(a)),
            Expr::Add(a, b) => infix(f, a, "+", b),
            Expr::Sub(a, b) => infix(f, a, "-", b),
            Expr::Mul(a, b) => infix(f, a, "*", b),
            Expr::Div(a, b) => infix(f, a, "/", b),
            Expr::Square(a) => write!(f, "square({a})"),
            Expr::Tanh(a) => write!(f, "tanh({a})"),
            Expr::Sigmoid(a) => write!(f, "sigmoid({a})"),
            Expr::Exp(a) => write!(f, "exp({a})"),
            Expr::Ln(a) => write!(f, "ln({a})"),
            Expr::Sqrt(a) => write!(f, "sqrt({a})"),
            Expr::Powf(a, p) => write!(f, "powf({a}, {p})"),
            Expr::Mean(a) => write!(f, "mean({a})"),
        }
    }
}

impl fmt::Debug for Expr {
    /// The same as `Display`: proptest prints a failing case with `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::Tape;
    use crate::tensor::Tensor;

    fn x(i: usize) -> Box<Expr> {
        Box::new(Expr::Input(i))
    }

    #[test]
    fn it_prints_as_a_person_writes_it() {
        let e = Expr::Tanh(Box::new(Expr::Add(
            Box::new(Expr::Mul(x(0), x(1))),
            Box::new(Expr::Exp(x(0))),
        )));
        assert_eq!(e.to_string(), "tanh((x0 * x1) + exp(x0))");
        assert_eq!(format!("{e:?}"), "tanh((x0 * x1) + exp(x0))");
        let e = Expr::Sub(Box::new(Expr::Neg(x(0))), Box::new(Expr::Const(-1.5)));
        assert_eq!(e.to_string(), "(-x0) - (-1.5)");
        assert_eq!((e.depth(), e.size()), (2, 4));
    }

    #[test]
    fn it_records_the_ops_it_prints() {
        let tape = Tape::new();
        let vars = [tape.param(Tensor::from([1.0, 2.0])), tape.param(0.5)];
        // (x0 - 1) * square(x1) + mean(x0) = [0, 0.25] + 1.5
        let e = Expr::Add(
            Box::new(Expr::Mul(
                Box::new(Expr::Sub(x(0), Box::new(Expr::Const(1.0)))),
                Box::new(Expr::Square(x(1))),
            )),
            Box::new(Expr::Mean(x(0))),
        );
        assert_eq!(e.eval(&vars).value(), Tensor::from([1.5, 1.75]));
        // x0 - 1 is one node (a scalar op); square records x1 * x1 on x1 once.
        assert_eq!(
            format!("{tape:?}"),
            "[n0 = param [] [2], n1 = param [] [], n2 = add [n0] [2], n3 = mul [n1, n1] [], \
             n4 = mul [n2, n3] [2], n5 = sum [n0] [], n6 = div [n5] [], n7 = add [n4, n6] [2]]"
        );
    }

    #[test]
    fn bounds_cover_the_values() {
        let denominator = Expr::Add(Box::new(Expr::Square(x(1))), Box::new(Expr::Const(1.0)));
        let e = Expr::Div(Box::new(Expr::Exp(x(0))), Box::new(denominator.clone()));
        assert_eq!(e.bound(2.0), 2f64.exp());
        assert_eq!(Expr::Ln(Box::new(denominator)).bound(2.0), 5f64.ln());
        assert_eq!(
            Expr::Ln(x(0)).bound(2.0),
            f64::INFINITY,
            "ln of an input can be ln 0"
        );
        assert_eq!(Expr::Div(x(0), x(1)).bound(2.0), f64::INFINITY);
    }
}
