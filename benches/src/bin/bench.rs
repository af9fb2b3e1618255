//! `cargo xtask bench`: the benchmark tables, printed as markdown (last) and written as JSON.
//!
//! Flags:
//! * `--op conv1d|fftconv`: which table (default conv1d);
//! * `--out FILE`: the JSON (default `benches/results/conv1d.json`, or for fftconv
//!   `benches/results/fftconv-<device>.json`, e.g. `fftconv-h100.json`; `…-quick.json` with
//!   `--quick`);
//! * `--out-dir DIR`: the default file name, in DIR instead of `benches/results`;
//! * `--torch-script FILE`: the PyTorch baseline (default `benches/python/<op>_torch.py`, else
//!   `python/<op>_torch.py` beside the binary, as in the device bundle); skipped with a note if
//!   python3 or torch is missing;
//! * `--no-torch`, `--no-cufft` (fftconv): skip a baseline;
//! * `--quick`: fewer rows (conv1d: 2, fftconv: 3, fftconv --long: 2), for a smoke run;
//! * `--dtype bf16|f16` (fftconv): only that dtype's rows;
//! * `--len L` (fftconv, repeatable): only rows of sequence length L (for profiling one row);
//! * `--setting causal|circular` (fftconv): only rows of that setting;
//! * `--layout bhl|blh` (conv1d): only that layout's rows;
//! * `--iters W,I`: W warm-up and I timed launches per measurement instead of 5 and 30 (for
//!   profiling a short, fixed launch sequence, e.g. under `ncu`; not for committed tables);
//! * `--min-workspace` (fftconv): long-size plans hold the smallest workspace their backward
//!   takes (`FftConv::min_workspace_bytes`: one row pair per backward launch group, two per
//!   forward launch) instead of the default 256 MiB (what small workspaces cost);
//! * `--long` (fftconv): issue 4's long-size table instead (gated bf16, causal L = 32K … 4M,
//!   circular N = L = 1M … 4M; measured at the B, H of `fftconv::long_table_shapes` and scaled to
//!   B = 64, H = 768; forward and backward), JSON `fftconv-long-<device>.json`. On the GPU machine:
//!   `bash .device/run.sh bench fftconv --long`.

use flashfftconv::Gpu;
use flashfftconv_bench::conv1d::{self, Conv1dBenchRow};
use flashfftconv_bench::cufft_baseline::CufftKernels;
use flashfftconv_bench::fftconv::{self, FftConvBenchRow};
use flashfftconv_bench::{copy_bandwidth, device_slug, python_baseline, Timing};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str =
    "usage: bench [--op conv1d|fftconv] [--out FILE | --out-dir DIR] [--torch-script FILE] [--no-torch] \
                     [--no-cufft] [--quick] [--dtype bf16|f16] [--len L]... [--setting causal|circular] [--long] \
                     [--layout bhl|blh] [--iters W,I] [--min-workspace]";

const TIMING_NOTE: &str =
    "median of 30 CUDA-event-timed launches after 5 warm-up launches; inputs rotated across copies totalling ≥ 3× L2";

/// The JSON's timing note: [`TIMING_NOTE`], or the `--iters` counts when they differ.
fn timing_note(t: Timing) -> String {
    let default = Timing::default();
    if (t.warmup, t.iters) == (default.warmup, default.iters) {
        TIMING_NOTE.to_string()
    } else {
        format!(
            "median of {} CUDA-event-timed launches after {} warm-up launches (--iters; not a table timing)",
            t.iters, t.warmup
        )
    }
}

struct Args {
    op: String,
    out: Option<String>,
    out_dir: String,
    script: Option<String>,
    quick: bool,
    dtype: Option<String>,
    lens: Vec<usize>,
    setting: Option<String>,
    torch: bool,
    cufft: bool,
    long: bool,
    layout: Option<String>,
    timing: Timing,
    min_workspace: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        op: "conv1d".into(),
        out: None,
        out_dir: "benches/results".into(),
        script: None,
        quick: false,
        dtype: None,
        lens: Vec::new(),
        setting: None,
        torch: true,
        cufft: true,
        long: false,
        layout: None,
        timing: Timing::default(),
        min_workspace: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--op" => args.op = value("--op")?,
            "--out" => args.out = Some(value("--out")?),
            "--out-dir" => args.out_dir = value("--out-dir")?,
            "--torch-script" => args.script = Some(value("--torch-script")?),
            "--quick" => args.quick = true,
            "--dtype" => args.dtype = Some(value("--dtype")?),
            "--len" => {
                let v = value("--len")?;
                args.lens.push(v.parse().map_err(|_| format!("--len takes a length, not `{v}`"))?);
            }
            "--setting" => args.setting = Some(value("--setting")?),
            "--no-torch" => args.torch = false,
            "--no-cufft" => args.cufft = false,
            "--long" => args.long = true,
            "--min-workspace" => args.min_workspace = true,
            "--layout" => args.layout = Some(value("--layout")?),
            "--iters" => {
                let v = value("--iters")?;
                let parsed = v.split_once(',').and_then(|(w, i)| Some((w.parse().ok()?, i.parse().ok()?)));
                match parsed {
                    Some((warmup, iters)) if iters > 0 => args.timing = Timing { warmup, iters },
                    _ => return Err(format!("--iters takes W,I (warm-up and timed launches, I ≥ 1), not `{v}`")),
                }
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if !["conv1d", "fftconv"].contains(&args.op.as_str()) {
        return Err(format!("--op takes conv1d or fftconv, not `{}`", args.op));
    }
    if args.long && args.op != "fftconv" {
        return Err("--long is a table of --op fftconv".into());
    }
    Ok(args)
}

/// `benches/python/NAME` from the repository root, else `python/NAME` beside the binary.
fn default_script(name: &str) -> String {
    let in_repo = Path::new("benches/python").join(name);
    if in_repo.is_file() {
        return in_repo.display().to_string();
    }
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("python").join(name)));
    match beside {
        Some(p) if p.is_file() => p.display().to_string(),
        _ => in_repo.display().to_string(),
    }
}

fn today() -> String {
    Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn write_json(out: &str, json: &serde_json::Value) -> Result<(), String> {
    if let Some(dir) = Path::new(out).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::write(out, serde_json::to_string_pretty(json).unwrap_or_default())
        .map_err(|e| format!("writing {out}: {e}"))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("bench: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let gpu = match Gpu::new(0) {
        Ok(g) => g,
        Err(why) => {
            eprintln!("bench: NO GPU — nothing was measured ({why})");
            return ExitCode::from(3);
        }
    };
    let result = match args.op.as_str() {
        "fftconv" => run_fftconv(&gpu, &args),
        _ => run_conv1d(&gpu, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_conv1d(gpu: &Gpu, args: &Args) -> Result<(), String> {
    let out = args.out.clone().unwrap_or_else(|| Path::new(&args.out_dir).join("conv1d.json").display().to_string());
    let script = args.script.clone().unwrap_or_else(|| default_script("conv1d_torch.py"));
    let stream = gpu.context().default_stream();
    let device = gpu.context().name().unwrap_or_default();
    let run = || -> flashfftconv::Result<(f64, Vec<Conv1dBenchRow>)> {
        let bw = copy_bandwidth(gpu, &stream)?;
        let mut shapes = conv1d::table_shapes();
        if args.quick {
            shapes.retain(|s| s.len == 4096 && s.channels == 2048);
        }
        if let Some(layout) = &args.layout {
            shapes.retain(|s| s.layout == layout.as_str());
        }
        let mut rows = Vec::new();
        for shape in &shapes {
            rows.push(conv1d::measure(gpu, &stream, shape, bw, args.timing)?);
            eprint!(".");
        }
        eprintln!();
        Ok((bw, rows))
    };
    let (bw, mut rows) = run().map_err(|e| e.to_string())?;
    let torch = if !args.torch {
        "PyTorch not run (--no-torch)".to_string()
    } else {
        let shapes: Vec<_> = rows.iter().map(|r| r.shape).collect();
        match python_baseline(&script, &shapes) {
            Ok((values, version)) => {
                for (row, v) in rows.iter_mut().zip(&values) {
                    row.torch_fwd_ms = v["torch_fwd_ms"].as_f64();
                    row.torch_bwd_ms = v["torch_bwd_ms"].as_f64();
                }
                format!("PyTorch {version}")
            }
            Err(e) => {
                eprintln!("bench: PyTorch baseline skipped: {e}");
                "PyTorch not run".into()
            }
        }
    };
    let date = today();
    println!("## conv1d, {device}, {date}: copy bandwidth {:.0} GB/s, {torch}\n", bw / 1e9);
    println!(
        "| layout | B | D | L | K | fwd ms | fwd / floor | copy ms | fwd / copy | torch fwd ms | torch / ours | bwd ms | bwd / fwd | bwd / floor | torch bwd ms | torch / ours |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    let ratio = |a: Option<f64>, b: f64| a.map_or("–".to_string(), |a| format!("{:.2}×", a / b));
    for r in &rows {
        let s = &r.shape;
        println!(
            "| {} | {} | {} | {} | {} | {:.4} | {:.3} | {:.4} | {:.3} | {} | {} | {:.4} | {:.2} | {:.3} | {} | {} |",
            s.layout,
            s.batch,
            s.channels,
            s.len,
            s.taps,
            r.fwd_ms,
            r.fwd_ms / r.fwd_floor_ms,
            r.copy_same_ms,
            r.fwd_ms / r.copy_same_ms,
            opt(r.torch_fwd_ms),
            ratio(r.torch_fwd_ms, r.fwd_ms),
            r.bwd_ms,
            r.bwd_ms / r.fwd_ms,
            r.bwd_ms / r.bwd_floor_ms,
            opt(r.torch_bwd_ms),
            ratio(r.torch_bwd_ms, r.bwd_ms)
        );
    }
    let json = serde_json::json!({
        "bench": "conv1d",
        "device": device,
        "date": date,
        "copy_bandwidth_bytes_per_s": bw,
        "baseline": torch,
        "timing": timing_note(args.timing),
        "rows": rows,
    });
    write_json(&out, &json)?;
    println!("\nbench: wrote {out}");
    Ok(())
}

fn run_fftconv(gpu: &Gpu, args: &Args) -> Result<(), String> {
    let device = gpu.context().name().unwrap_or_default();
    let out = args.out.clone().unwrap_or_else(|| {
        let subset = match (&args.dtype, args.quick) {
            (Some(d), _) => format!("-{d}"),
            (None, true) => "-quick".to_string(),
            (None, false) => String::new(),
        };
        let table = if args.long { "fftconv-long" } else { "fftconv" };
        let name = format!("{table}-{}{subset}.json", device_slug(&device));
        PathBuf::from(&args.out_dir).join(name).display().to_string()
    });
    let script = args.script.clone().unwrap_or_else(|| default_script("fftconv_torch.py"));
    let stream = gpu.context().default_stream();
    let bw = copy_bandwidth(gpu, &stream).map_err(|e| e.to_string())?;
    let cufft = if args.cufft {
        match CufftKernels::new(&stream) {
            Ok(k) => Ok(k),
            Err(e) => {
                eprintln!("bench: cuFFT baseline not run: {e}");
                Err(format!("not run: {e}"))
            }
        }
    } else {
        Err("not run (--no-cufft)".to_string())
    };
    let mut shapes = match (args.long, args.quick) {
        (false, false) => fftconv::table_shapes(),
        (false, true) => fftconv::quick_shapes(),
        (true, false) => fftconv::long_table_shapes(),
        (true, true) => fftconv::long_quick_shapes(),
    };
    if let Some(dtype) = &args.dtype {
        shapes.retain(|s| s.dtype == dtype);
    }
    if !args.lens.is_empty() {
        shapes.retain(|s| args.lens.contains(&s.len));
    }
    if let Some(setting) = &args.setting {
        shapes.retain(|s| s.setting == setting);
    }
    let mut rows: Vec<FftConvBenchRow> = Vec::new();
    for shape in &shapes {
        let mut row = fftconv::measure(gpu, &stream, shape, bw, args.timing, args.min_workspace, cufft.as_ref().ok());
        if let Err(why) = &cufft {
            row.cufft_note = Some(why.clone());
        }
        eprintln!(
            "bench: {} {} L={} N={}: fwd {:?} ms, bwd {:?} ms, cuFFT {:?} ms{}",
            shape.setting,
            shape.dtype,
            shape.len,
            shape.fft_size,
            row.fwd_ms,
            row.bwd_ms,
            row.cufft_fwd_ms,
            row.error.as_ref().map_or(String::new(), |e| format!(" (error: {e})"))
        );
        rows.push(row);
    }
    let torch = if !args.torch {
        "PyTorch not run (--no-torch)".to_string()
    } else {
        match python_baseline(&script, &shapes) {
            Ok((values, version)) => {
                for (row, v) in rows.iter_mut().zip(&values) {
                    row.torch_fwd_ms = v["torch_fwd_ms"].as_f64();
                    row.torch_bwd_ms = v["torch_bwd_ms"].as_f64();
                    row.torch_note = v["torch_note"].as_str().map(str::to_string);
                }
                format!("PyTorch {version} torch.fft")
            }
            Err(e) => {
                eprintln!("bench: PyTorch baseline skipped: {e}");
                "PyTorch not run".into()
            }
        }
    };
    let cufft_text = match &cufft {
        Ok(_) => "cuFFT via cudarc (R2C/C2R + NVRTC elementwise kernels)".to_string(),
        Err(why) => format!("cuFFT {why}"),
    };
    let date = today();
    let mut json = serde_json::json!({
        "bench": if args.long { "fftconv-long" } else { "fftconv" },
        "device": device,
        "date": date,
        "copy_bandwidth_bytes_per_s": bw,
        "baselines": [cufft_text, torch],
        "timing": timing_note(args.timing),
        "floor": "bytes read and written once (u, y, gates; backward also dy, du, gate gradients, dk; the prepared spectrum) / copy bandwidth",
        "rows": rows,
    });
    if args.min_workspace {
        json["workspace"] = serde_json::json!("--min-workspace: long plans hold FftConv::min_workspace_bytes(N).backward (one row pair per backward group)");
    }
    if args.long {
        json["scaling"] = serde_json::json!(
            "rows with `scaled_to` were measured at their `batch`, `heads`; every time in the row (ours, cuFFT, PyTorch) \
             is as measured: multiply by `time_scale` (linear in B·H) for the `scaled_to` (B, H). The floor ratio is \
             measured time over the measured shape's floor. Issue 3's bound on bwd / fwd (2.5) is not applied to \
             the long rows."
        );
    }
    let written = write_json(&out, &json);
    for r in rows.iter().filter(|r| r.error.is_some() || r.cufft_note.is_some() || r.torch_note.is_some()) {
        let s = &r.shape;
        println!(
            "note {} {} L={} N={}: {}",
            s.setting,
            s.dtype,
            s.len,
            s.fft_size,
            [&r.error, &r.cufft_note, &r.torch_note].iter().filter_map(|n| n.as_deref()).collect::<Vec<_>>().join("; ")
        );
    }
    println!("\n## fftconv, {device}, {date}: copy bandwidth {:.0} GB/s; baselines: {cufft_text}; {torch}\n", bw / 1e9);
    if args.long {
        println!("{}", fftconv::long_markdown_table(&rows));
    } else {
        println!("{}", fftconv::markdown_table(&rows));
    }
    written?;
    println!("bench: wrote {out}");
    if rows.iter().any(|r| r.error.is_some()) {
        return Err("flashfftconv failed on some rows (see the notes above)".into());
    }
    Ok(())
}
