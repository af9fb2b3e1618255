//! `cargo xtask bench`: the benchmark tables, printed as markdown and written as JSON.
//!
//! Flags: `--out FILE` (JSON; default `benches/results/conv1d.json`), `--torch-script FILE`
//! (PyTorch baseline; default `benches/python/conv1d_torch.py`, skipped with a note if python3
//! or torch is missing), `--quick` (fewer rows, for a smoke run).

use flashfftconv_bench::conv1d::{self, Conv1dBenchRow};
use flashfftconv_bench::{copy_bandwidth, Timing};
use std::io::Write;
use std::process::{Command, ExitCode, Stdio};

fn arg_value(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1).cloned())
}

fn torch_baseline(script: &str, rows: &mut [Conv1dBenchRow]) -> Result<String, String> {
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    {
        let stdin = child.stdin.as_mut().ok_or("no stdin")?;
        for row in rows.iter() {
            let line = serde_json::to_string(&row.shape).map_err(|e| e.to_string())?;
            writeln!(stdin, "{line}").map_err(|e| e.to_string())?;
        }
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("{script} failed with {}", output.status));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut version = String::new();
    for (row, line) in rows.iter_mut().zip(text.lines()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        row.torch_fwd_ms = v["torch_fwd_ms"].as_f64();
        row.torch_bwd_ms = v["torch_bwd_ms"].as_f64();
        version = v["torch"].as_str().unwrap_or_default().to_string();
    }
    Ok(version)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = arg_value(&args, "--out").unwrap_or_else(|| "benches/results/conv1d.json".into());
    let script = arg_value(&args, "--torch-script").unwrap_or_else(|| "benches/python/conv1d_torch.py".into());
    let quick = args.iter().any(|a| a == "--quick");
    let gpu = match flashfftconv::Gpu::new(0) {
        Ok(g) => g,
        Err(why) => {
            eprintln!("bench: NO GPU — nothing was measured ({why})");
            return ExitCode::from(3);
        }
    };
    let stream = gpu.context().default_stream();
    let device = gpu.context().name().unwrap_or_default();
    let run = || -> flashfftconv::Result<(f64, Vec<Conv1dBenchRow>)> {
        let bw = copy_bandwidth(&gpu, &stream)?;
        let mut shapes = conv1d::table_shapes();
        if quick {
            shapes.retain(|s| s.len == 4096 && s.channels == 2048);
        }
        let mut rows = Vec::new();
        for shape in &shapes {
            rows.push(conv1d::measure(&gpu, &stream, shape, bw, Timing::default())?);
            eprint!(".");
        }
        eprintln!();
        Ok((bw, rows))
    };
    let (bw, mut rows) = match run() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let torch = match torch_baseline(&script, &mut rows) {
        Ok(v) => format!("PyTorch {v}"),
        Err(e) => {
            eprintln!("bench: PyTorch baseline skipped: {e}");
            "PyTorch not run".into()
        }
    };
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("## conv1d, {device}, {date}: copy bandwidth {:.0} GB/s, {torch}\n", bw / 1e9);
    println!("| layout | B | D | L | K | fwd ms | fwd / floor | torch fwd ms | torch / ours | bwd ms | bwd / fwd | bwd / floor | torch bwd ms | torch / ours |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    let ratio = |a: Option<f64>, b: f64| a.map_or("–".to_string(), |a| format!("{:.2}×", a / b));
    for r in &rows {
        let s = &r.shape;
        println!(
            "| {} | {} | {} | {} | {} | {:.4} | {:.3} | {} | {} | {:.4} | {:.2} | {:.3} | {} | {} |",
            s.layout,
            s.batch,
            s.channels,
            s.len,
            s.taps,
            r.fwd_ms,
            r.fwd_ms / r.fwd_floor_ms,
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
        "timing": "median of 30 CUDA-event-timed launches after 5 warm-up launches; inputs rotated across copies totalling ≥ 3× L2",
        "rows": rows,
    });
    if let Err(e) = std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap_or_default()) {
        eprintln!("bench: writing {out}: {e}");
        return ExitCode::FAILURE;
    }
    println!("\nbench: wrote {out}");
    ExitCode::SUCCESS
}
