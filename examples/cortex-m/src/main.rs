//! `backprop` on a Cortex-M4F: trains XOR from a fixed seed, then runs weights trained on the
//! host and baked into flash, and checks both against the host.
//!
//! Runs in QEMU (`cargo run --release` here; see `.cargo/config.toml`), prints over
//! semihosting, and exits with a failure code when training does not converge, when the baked
//! network's predictions differ from the host's, or on a panic or a hard fault.
#![no_std]
#![no_main]

mod baked;
mod xor;

use core::fmt;
use core::hint::black_box;

use backprop::{ParamBytes, Params};
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, hprintln};

use xor::Xor;

/// RAM this firmware grants the network: its parameters and one trace (what `train_step`
/// keeps on the stack). The build fails if the network outgrows it.
const RAM_BUDGET: usize = 256;
const _: () = assert!(
    Xor::<f32>::PARAM_BYTES + Xor::<f32>::TRACE_BYTES <= RAM_BUDGET,
    "the XOR network does not fit its RAM budget"
);
const _: () = assert!(baked::BAKED_PARAMS == Xor::<f32>::PARAMS, "baked weights are for another network");

/// The host-trained weights again, in the serialised format (`examples/bake_xor.rs` writes it).
static BAKED_BYTES: &[u8; Xor::<f32>::SERIALIZED_LEN] = include_bytes!("../baked/xor.bin");

/// How far the firmware's outputs of the baked network may be from the host's. Both run the
/// same IEEE-754 single-precision operations in the same order and the same `libm`, so they are
/// expected to agree bit for bit; the tolerance only keeps the check meaningful if a future
/// kernel were to differ in the last place between targets.
const TOLERANCE: f32 = 1e-6;

#[entry]
fn main() -> ! {
    let ok = run();
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    #[allow(clippy::empty_loop)]
    loop {}
}

fn run() -> bool {
    hprintln!(
        "backprop on a Cortex-M4F: XOR 2-4-1 (tanh, sigmoid, binary cross-entropy), {} parameters, {} bytes of parameters + {} bytes of trace (budget {})",
        Xor::<f32>::PARAMS,
        Xor::<f32>::PARAM_BYTES,
        Xor::<f32>::TRACE_BYTES,
        RAM_BUDGET
    );

    // 1. Train on the device.
    let mut net = xor::initial();
    hprintln!(
        "seed {}, learning rate {}, initial mean loss {}",
        xor::SEED,
        Fixed(xor::LEARNING_RATE),
        Fixed(xor::mean_loss(&net))
    );
    let trained = xor::train(&mut net, |epoch, loss| {
        if epoch % 10 == 0 {
            hprintln!("epoch {:4}: mean loss {}", epoch, Fixed(loss));
        }
    });
    let epochs = match trained {
        Ok(epochs) => epochs,
        Err(loss) => {
            hprintln!("FAIL: no convergence after {} epochs, mean loss {}", xor::MAX_EPOCHS, Fixed(loss));
            return false;
        }
    };
    hprintln!(
        "converged after {} epochs: mean loss {} < {}",
        epochs,
        Fixed(xor::mean_loss(&net)),
        Fixed(xor::TARGET_LOSS)
    );
    let mut ok = true;
    for ((x, t), y) in xor::INPUTS.iter().zip(&xor::TARGETS).zip(xor::predictions(&net)) {
        let right = (y > 0.5) == (t[0] > 0.5);
        ok &= right;
        hprintln!(
            "  xor({}, {}) = {}  (target {}){}",
            x[0] as u8,
            x[1] as u8,
            Fixed(y),
            t[0] as u8,
            if right { "" } else { "  WRONG" }
        );
    }
    hprintln!(
        "on-device training reproduces the host's weights bit for bit: {}",
        if xor::same_bits(&net, &baked::BAKED) { "yes" } else { "no" }
    );

    // 2. Run the weights trained on the host, from a `static` in flash.
    hprintln!(
        "baked network (host-trained, {} epochs, host mean loss {}):",
        baked::HOST_EPOCHS,
        Fixed(baked::HOST_LOSS)
    );
    hprintln!("  input   firmware            host                |diff|");
    let mut exact = true;
    for ((x, y), host) in xor::INPUTS.iter().zip(xor::predictions(&baked::BAKED)).zip(baked::HOST_PREDICTIONS)
    {
        let diff = if y > host { y - host } else { host - y };
        let close = diff <= TOLERANCE;
        ok &= close;
        exact &= y.to_bits() == host.to_bits();
        hprintln!(
            "  ({}, {})  {} {:#010x}  {} {:#010x}  {}{}",
            x[0] as u8,
            x[1] as u8,
            Fixed(y),
            y.to_bits(),
            Fixed(host),
            host.to_bits(),
            Fixed(diff),
            if close { "" } else { "  MISMATCH" }
        );
    }
    hprintln!(
        "baked predictions match the host's: {}",
        if !ok {
            "NO"
        } else if exact {
            "yes, bit for bit"
        } else {
            "yes, within 1e-6"
        }
    );

    // 3. The same weights from bytes, and a corrupted copy refused.
    match Xor::<f32>::from_bytes(BAKED_BYTES) {
        Ok(loaded) if xor::same_bits(&loaded, &baked::BAKED) => {
            hprintln!("{} serialised bytes load to the baked network exactly", BAKED_BYTES.len());
        }
        Ok(_) => {
            hprintln!("FAIL: the serialised bytes load to another network than the baked one");
            ok = false;
        }
        Err(e) => {
            hprintln!("FAIL: the serialised bytes do not load: {}", e);
            ok = false;
        }
    }
    let mut corrupted = *BAKED_BYTES;
    corrupted[40] ^= 0x01;
    let mut target = net.clone();
    match target.load_bytes(&corrupted) {
        Err(e) if xor::same_bits(&target, &net) => {
            hprintln!("a corrupted copy is refused, network untouched: {}", e)
        }
        _ => {
            hprintln!("FAIL: a corrupted copy was accepted");
            ok = false;
        }
    }

    // 4. Cost of one training step, counted by SysTick.
    measure(&net);

    if ok {
        hprintln!("PASS");
    } else {
        hprintln!("FAIL");
    }
    ok
}

/// SysTick ticks of `f`, counting down from the full 24-bit reload.
fn ticks(f: impl FnOnce()) -> u32 {
    let start = SYST::get_current();
    f();
    let end = SYST::get_current();
    start.wrapping_sub(end) & 0x00FF_FFFF
}

/// `2 n` instructions: `n` iterations of a two-instruction loop (`subs`, `bne`), written in
/// assembly so that the count is exact.
#[inline(never)]
fn spin(n: u32) {
    // SAFETY: only decrements a register until it is zero.
    unsafe {
        core::arch::asm!("2:", "subs {0}, #1", "bne 2b", inout(reg) n => _, options(nomem, nostack));
    }
}

/// Instructions of one training step and of one inference, counted with SysTick.
///
/// Under `qemu-system-arm -icount shift=0` every instruction advances QEMU's virtual clock by
/// exactly 1 ns, and SysTick (clocked by the core clock, 25 MHz on mps2-an386) counts that clock:
/// one tick per 40 instructions. The firmware calibrates this ratio with a loop of a known
/// instruction count, then times 1000 training steps and 1000 inferences. Without `-icount`
/// the virtual clock follows the host's, and no count is printed.
fn measure(net: &Xor<f32>) {
    let Some(mut peripherals) = cortex_m::Peripherals::take() else { return };
    let syst = &mut peripherals.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(0x00FF_FFFF);
    syst.clear_current();
    syst.enable_counter();

    const SPIN: u32 = 100_000;
    let calibration = ticks(|| spin(black_box(SPIN)));
    let instructions_per_tick = (2 * SPIN + calibration / 2) / calibration.max(1);
    if calibration < 100 || instructions_per_tick == 0 {
        hprintln!(
            "SysTick: {} ticks for {} instructions; run QEMU with -icount shift=0 to count instructions",
            calibration,
            2 * SPIN
        );
        return;
    }
    const STEPS: u32 = 1000;
    let mut stepped = net.clone();
    let t_train = ticks(|| {
        for i in 0..STEPS as usize {
            let k = i & 3;
            black_box(stepped.train_step(black_box(&xor::INPUTS[k]), &xor::TARGETS[k], xor::LEARNING_RATE));
        }
    });
    let t_forward = ticks(|| {
        for i in 0..STEPS as usize {
            black_box(net.forward(black_box(&xor::INPUTS[i & 3])));
        }
    });
    hprintln!(
        "SysTick: {} ticks for {} instructions: {} instructions per tick",
        calibration,
        2 * SPIN,
        instructions_per_tick
    );
    hprintln!(
        "one training step (forward, loss, backward, SGD update): {} instructions ({} ticks / {} steps, loop included)",
        t_train * instructions_per_tick / STEPS,
        t_train,
        STEPS
    );
    hprintln!(
        "one inference (forward): {} instructions ({} ticks / {} calls, loop included)",
        t_forward * instructions_per_tick / STEPS,
        t_forward,
        STEPS
    );
    black_box(stepped.params());
}

/// An `f32` printed with six decimals through integer formatting (keeps `core`'s float
/// formatting, several KiB of flash, out of the firmware).
struct Fixed(f32);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.is_nan() {
            return f.write_str("NaN");
        }
        let sign = if x.is_sign_negative() { "-" } else { "" };
        // u32 arithmetic only (u64 division is a library call on Cortex-M); saturates past 4e9.
        let mut int = x.abs() as u32;
        let mut micros = ((x.abs() - int as f32) * 1e6 + 0.5) as u32;
        if micros >= 1_000_000 {
            int = int.saturating_add(1);
            micros -= 1_000_000;
        }
        write!(f, "{}{}.{:06}", sign, int, micros)
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("FAIL: panic");
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("FAIL: hard fault at pc {:#010x}", frame.pc());
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
