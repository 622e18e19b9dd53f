//! A user crate whose `Cargo.toml` renames the dependency (`bp = { package = "backprop", .. }`):
//! `backprop` is not a name in this crate, yet `bp::network!` expands to code that finds its
//! runtime, because the shim passes `$crate` to the proc macro. Built by `cargo test --workspace`.
#![no_std]
#![deny(missing_docs, warnings)]

bp::network! {
    /// The toy network, declared through the renamed crate.
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

/// The toy network with the chapter's weights.
#[must_use]
pub fn toy() -> Toy<f64> {
    Toy::new(bp::Dense::new([[0.4, 0.2], [-0.2, 0.4]], [0.0, 0.0]), bp::Dense::new([[0.5, -0.4]], [0.1]))
}

#[cfg(test)]
mod tests {
    use bp::Network;

    #[test]
    fn expands_and_runs_through_the_renamed_crate() {
        let mut net = super::toy();
        let y = net.forward(&[1.0, 0.5]);
        assert!((y[0] - 0.552_611_941_871_061_8).abs() < 1e-12);
        // The trait impl is generated through the renamed path too.
        assert_eq!(<super::Toy<f64> as Network<f64>>::INPUTS, 2);
        let before = net.loss(&[1.0, 0.5], &[1.0]);
        net.train_step(&[1.0, 0.5], &[1.0], 0.5);
        assert!(net.loss(&[1.0, 0.5], &[1.0]) < before);
    }
}
