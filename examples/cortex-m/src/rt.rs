//! What every firmware of the examples shares: the instruction counter, the stack gauge, number
//! formatting without `core`'s float code, and the panic and hard-fault handlers that fail the
//! QEMU run. The Cortex-M4F firmwares (`main.rs`, `bin/digits_cnn.rs`) and the Cortex-M0 one
//! (`examples/cortex-m0`) include this file by path, so each is one crate with no shared
//! dependency to publish.

use core::fmt;
use core::hint::black_box;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{ExceptionFrame, exception};
use cortex_m_semihosting::{debug, hprintln};

/// SysTick's counter is 24 bits wide: no window may reach this many ticks.
pub const MAX_TICKS: u32 = 1 << 24;

/// Instructions counted with SysTick under `qemu-system-arm -icount shift=0`.
///
/// With `-icount shift=0` every guest instruction advances QEMU's virtual clock by exactly 1 ns,
/// and SysTick, clocked by the core clock, counts that clock: one tick per `NUM / DEN`
/// instructions (40 at the mps2-an386's 25 MHz, 62.5 at the microbit's 16 MHz). [`Counter::start`]
/// checks that ratio on a loop of a known instruction count; without `-icount` the virtual clock
/// follows the host's, the check fails, and no count is printed. These are instructions, not
/// cycles: QEMU does not model the pipeline, the flash wait states or the multiplier's latency.
pub struct Counter<const NUM: u32, const DEN: u32>(());

impl<const NUM: u32, const DEN: u32> Counter<NUM, DEN> {
    /// The calibration loop's `subs`/`bne` iterations: 8 000 000 instructions.
    const SPIN: u32 = 4_000_000;

    /// Starts SysTick and checks that it counts one tick per `NUM / DEN` instructions; `None`,
    /// after saying why, if not.
    pub fn start() -> Option<Self> {
        let mut peripherals = cortex_m::Peripherals::take()?;
        let syst = &mut peripherals.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(MAX_TICKS - 1);
        syst.clear_current();
        syst.enable_counter();
        let counter = Self(());
        let calibration = counter.ticks(|| spin(black_box(Self::SPIN)));
        let expected = 2 * Self::SPIN * DEN / NUM;
        // The few instructions around the loop may reach one tick more.
        if calibration == expected || calibration == expected + 1 {
            hprintln!(
                "SysTick: {} ticks for {} instructions: {}/{} instructions per tick, QEMU counts instructions (-icount shift=0)",
                calibration,
                2 * Self::SPIN,
                NUM,
                DEN
            );
            Some(counter)
        } else {
            hprintln!(
                "SysTick: {} ticks for {} instructions, not {}: QEMU is not counting instructions (run it with -icount shift=0), no counts",
                calibration,
                2 * Self::SPIN,
                expected
            );
            None
        }
    }

    /// SysTick ticks of `f` (counting down from the full 24-bit reload).
    pub fn ticks(&self, f: impl FnOnce()) -> u32 {
        let start = SYST::get_current();
        f();
        let end = SYST::get_current();
        start.wrapping_sub(end) & (MAX_TICKS - 1)
    }

    /// The instructions of `ticks` ticks divided by `n`, rounded (exact to `NUM / DEN / n`).
    pub fn instructions(&self, ticks: u32, n: u32) -> u32 {
        // u64 division is a library call on Cortex-M: stay in u32 while it cannot overflow
        // (`ticks < 2^24` and `NUM ≤ 255`).
        (ticks * NUM + n * DEN / 2) / (n * DEN)
    }
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

/// Peak stack use, measured by painting the free stack with a pattern at start-up and finding
/// later how far down it was overwritten.
pub mod stack {
    const PATTERN: u32 = 0xDEAD_BEEF;

    unsafe extern "C" {
        /// Top of the stack (from `cortex-m-rt`'s `link.x`).
        static _stack_start: u32;
        /// End of the static data: the stack may grow down to here.
        static __sheap: u32;
    }

    fn bounds() -> (*mut u32, *mut u32) {
        // Only the addresses of the linker symbols are taken (no read): no `unsafe` needed.
        (&raw const __sheap as *mut u32, &raw const _stack_start as *mut u32)
    }

    fn sp() -> usize {
        let sp: usize;
        // SAFETY: reads the stack pointer.
        unsafe { core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
        sp
    }

    /// Fills the unused stack below the current frame (minus a safety margin) with the pattern.
    #[inline(never)]
    pub fn paint() {
        let (low, _) = bounds();
        let limit = sp() - 256;
        let mut p = low;
        while (p as usize) < limit {
            // SAFETY: between the end of the static data and below the live stack: memory that
            // nothing uses yet.
            unsafe { p.write_volatile(PATTERN) };
            p = p.wrapping_add(1);
        }
    }

    /// Bytes between the top of the stack and the lowest word no longer holding the pattern.
    pub fn peak() -> usize {
        let (low, high) = bounds();
        let mut p = low;
        // SAFETY: reads words of the stack region painted by `paint`.
        while p < high && unsafe { p.read_volatile() } == PATTERN {
            p = p.wrapping_add(1);
        }
        high as usize - p as usize
    }
}

/// Ends the QEMU run: success or failure, as semihosting's exit code.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// An `f32` printed with six decimals through integer formatting (keeps `core`'s float
/// formatting, several KiB of flash, out of the firmware).
#[allow(dead_code, reason = "not every firmware prints a float")]
pub struct Fixed(pub f32);

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

/// `part` of `whole` as a percentage with two decimals, through integer formatting.
#[allow(dead_code, reason = "not every firmware prints an accuracy")]
pub struct Percent(pub usize, pub usize);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let basis_points = (self.0 * 10_000 + self.1 / 2) / self.1.max(1);
        write!(f, "{}.{:02}%", basis_points / 100, basis_points % 100)
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("FAIL: panic");
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("FAIL: hard fault at pc {:#010x}", frame.pc());
    exit(false)
}
