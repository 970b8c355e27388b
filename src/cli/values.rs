//! The command line's names for the library's choices: one `ValueEnum` mirror per library enum,
//! converted with `From`, so that the library does not depend on clap.

use clap::ValueEnum;

/// A command-line enum whose values stand one for one for the variants of a library enum.
macro_rules! mirror {
    ($(#[$doc:meta])* $name:ident => $lib:ty { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl From<$name> for $lib {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$variant => <$lib>::$variant),+
                }
            }
        }
    };
}

mirror! {
    /// How neuron bounds are computed.
    Method => crate::bounds::Method {
        /// Interval arithmetic, layer by layer.
        Interval,
        /// Back-substitution (DeepPoly/CROWN).
        Symbolic,
        /// Back-substitution with the ReLU lower slopes optimised per neuron (α-CROWN style).
        Alpha,
        /// LP tightening of every unstable ReLU's input, certified by the duals.
        Lp,
    }
}

mirror! {
    /// Relaxed (LP) or exact (MILP) encoding.
    Mode => crate::encode::Mode { Relaxed, Exact }
}

mirror! {
    /// What `lrom` computes for every region.
    AnalysisKind => crate::spec::AnalysisKind {
        /// LROM minimum and maximum for every class pair, with the independent baseline.
        Lrom,
        /// The implication verdict only (LROM minima).
        Implication,
        /// The implication matrix over every ordered pair of networks.
        Matrix,
    }
}

mirror! {
    /// How a perturbation is measured.
    Norm => crate::analysis::resilience::Norm {
        /// `Σ |ε_i|` (the paper's).
        L1,
        /// `max |ε_i|`.
        Linf,
    }
}

mirror! {
    /// Target precision of a quantised twin.
    Precision => crate::twins::compress::Precision { Int16, Int8, Int4, Float16 }
}

mirror! {
    /// How an integer quantisation rounds.
    QuantRule => crate::twins::compress::QuantRule {
        /// FANC: truncation toward zero, scale `2^(b−1)/max|w|`, float32 arithmetic.
        Fanc,
        /// Round to nearest (ties to even), scale `(2^(b−1)−1)/max|w|`, f64 arithmetic.
        Nearest,
    }
}

mirror! {
    /// The phase row of an inactive ReLU in `sparsify`.
    InactiveRule => crate::twins::sparsify::InactiveRule {
        /// The paper's (9): `W̃a + b̃ ≤ 0`; may move an inactive pre-activation up to the boundary.
        Paper,
        /// `W̃a + b̃ ≤ z`: the pre-activation may only fall (no neuron gets closer to its boundary).
        Keep,
    }
}

mirror! {
    /// Which solver runs the LPs and MILPs.
    SolverKind => crate::solve::SolverKind {
        /// Embedded HiGHS (default; LP and MILP, row duals for certification).
        Highs,
        /// COIN-OR CBC through its LP-file interface (`cbc` on PATH or --solver-path).
        Cbc,
        /// GLPK through its LP-file interface (`glpsol`).
        Glpk,
        /// Gurobi through its LP-file interface (`gurobi_cl`).
        Gurobi,
        /// IBM CPLEX through its LP-file interface (`cplex`).
        Cplex,
    }
}

mirror! {
    /// What a solver fault does to the run.
    Fallback => crate::solve::Fallback {
        /// Symbolic bounds for the faulty solves and a non-zero exit code (3) at the end.
        Fail,
        /// Symbolic bounds for the faulty solves, reported on stderr, and exit code 0.
        Symbolic,
    }
}

mirror! {
    /// What the `equiv` verdict is about.
    Criterion => crate::analysis::equiv::Criterion {
        /// max |A − B| ≤ ε and equal argmax.
        Both,
        /// max |A − B| ≤ ε only.
        Epsilon,
        /// Equal argmax only.
        Top1,
    }
}
