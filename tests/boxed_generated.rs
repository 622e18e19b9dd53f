//! The in-place heap constructor that every generated network has with the `alloc` feature.

backprop::network! {
    /// 1.6 MB of `f32` parameters: too much for a small thread's stack by value.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Big { input: 784, hidden: Dense<512, Relu>, output: Dense<10, Softmax> }
}

#[test]
fn boxed_zeroed_builds_a_big_network_without_its_size_on_the_stack() {
    // A 64 KiB stack: the network by value (1.6 MB) would overflow it.
    let handle = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let net = Big::<f32>::boxed_zeroed();
            assert_eq!(Big::<f32>::PARAM_BYTES, (784 * 512 + 512 + 512 * 10 + 10) * 4);
            assert!(backprop::Params::params(&*net).iter().all(|&p| p == 0.0));
            net.forward(&[0.5; 784])
        })
        .expect("spawn");
    let y = handle.join().expect("no stack overflow");
    assert!(y.iter().all(|&p| (p - 0.1).abs() < 1e-6), "{y:?}");
}
