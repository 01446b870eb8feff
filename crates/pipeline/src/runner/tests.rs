//! The runner on a toy stage: chaining, caching, outputs and errors in pipeline files.

use super::*;

fn registry() -> Vec<StageKind> {
    let keys = vec![
        KeySpec {
            key: "input".into(),
            long: None,
            arity: Arity::One,
            path: true,
            required: true,
            output: false,
            delimiter: None,
        },
        KeySpec {
            key: "scale".into(),
            long: Some("scale".into()),
            arity: Arity::One,
            path: false,
            required: false,
            output: false,
            delimiter: None,
        },
        KeySpec {
            key: "fast".into(),
            long: Some("fast".into()),
            arity: Arity::Flag,
            path: false,
            required: false,
            output: false,
            delimiter: None,
        },
        KeySpec {
            key: "save_log".into(),
            long: Some("save-log".into()),
            arity: Arity::One,
            path: true,
            required: false,
            output: true,
            delimiter: None,
        },
        KeySpec {
            key: "out".into(),
            long: Some("out".into()),
            arity: Arity::One,
            path: true,
            required: false,
            output: true,
            delimiter: None,
        },
    ];
    // A toy stage: copies its input, times --scale, into its output file.
    let exec: Exec = Box::new(|p: &serde_json::Value, out: &Path, _progress: &dyn Progress| {
        let input = std::fs::read_to_string(p["input"].as_str().unwrap()).unwrap();
        let scale: f64 = p["scale"].as_f64().unwrap_or(1.0);
        let v: f64 = input.trim().parse::<f64>().unwrap() * scale;
        std::fs::write(out, format!("{v}")).unwrap();
        if let Some(log) = p["save_log"].as_str() {
            std::fs::write(log, format!("scaled by {scale}")).unwrap();
        }
        Ok(Finished { params: p.clone(), summary: json!({"value": v}), headline: format!("value {v}") })
    });
    let check: Check = Box::new(|p: &serde_json::Value| match &p["scale"] {
        serde_json::Value::String(s) => Err(("scale".into(), format!("invalid value '{s}': not a number"))),
        _ => Ok(()),
    });
    let headline: Headline = Box::new(|v: &serde_json::Value| format!("value {}", v["value"]));
    vec![StageKind {
        name: "scale".into(),
        keys,
        output: Output::File("v.txt"),
        exec,
        check,
        typed: Box::new(|v| Ok(v.clone())),
        headline,
    }]
}

fn write(dir: &Path, toml: &str) -> PathBuf {
    std::fs::write(dir.join("in.txt"), "2").unwrap();
    let f = dir.join("p.toml");
    std::fs::write(&f, toml).unwrap();
    f
}

/// Stage a scales in.txt by 3; stage b scales a's output by 2.5.
const TWO_STAGES: &str = "[[stage]]\nrun = \"scale\"\nname = \"a\"\ninput = \"in.txt\"\nscale = 3\n\n[[stage]]\nrun = \"scale\"\nname = \"b\"\ninput = \"@a/v.txt\"\nscale = 2.5\n";

/// Runs the pipeline and returns the names of the stages that ran (not cached).
fn ran_stages(p: &Pipeline, reg: &[StageKind], run_dir: &Path) -> Vec<String> {
    let mut ran = Vec::new();
    run(p, reg, run_dir, &chemomech_core::NoProgress, &mut |s, r| {
        if r.is_none() {
            ran.push(s.name.clone())
        }
    })
    .unwrap();
    ran
}

#[test]
fn chains_caches_and_reruns_on_change() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), TWO_STAGES);
    let reg = registry();
    let p = parse(&f, &reg).unwrap();
    let run_dir = d.path().join("run");
    let mut ran = Vec::new();
    let r = run(&p, &reg, &run_dir, &chemomech_core::NoProgress, &mut |s, r| {
        if r.is_none() {
            ran.push(s.name.clone())
        }
    })
    .unwrap();
    assert_eq!(ran, ["a", "b"]);
    assert_eq!(std::fs::read_to_string(run_dir.join("b/v.txt")).unwrap(), "15");
    assert_eq!(r["complete"], json!(true));
    // Unchanged: nothing runs.
    assert!(ran_stages(&p, &reg, &run_dir).is_empty());
    // A changed input re-runs both stages (b through a's key).
    std::fs::write(d.path().join("in.txt"), "4").unwrap();
    assert_eq!(ran_stages(&p, &reg, &run_dir), ["a", "b"]);
    assert_eq!(std::fs::read_to_string(run_dir.join("b/v.txt")).unwrap(), "30");
}

/// Progress that asks to stop once `after` stages have started.
struct StopAfter {
    after: usize,
    started: std::sync::atomic::AtomicUsize,
}

impl chemomech_core::Progress for StopAfter {
    fn cancelled(&self) -> bool {
        self.started.load(std::sync::atomic::Ordering::Relaxed) > self.after
    }
}

#[test]
fn cancelled_progress_stops_before_the_next_stage_and_keeps_finished_ones() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), TWO_STAGES);
    let reg = registry();
    let p = parse(&f, &reg).unwrap();
    let run_dir = d.path().join("run");
    let stop = StopAfter { after: 1, started: Default::default() };
    let e = run(&p, &reg, &run_dir, &stop, &mut |_, r| {
        if r.is_none() {
            stop.started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    })
    .unwrap_err();
    assert_eq!(e.kind, chemomech_core::error::ErrorKind::Cancelled);
    assert!(e.to_string().contains("cancelled before stage 'b'"), "{e}");
    assert!(run_dir.join("a/v.txt").is_file() && !run_dir.join("b").exists());
    // Run again without cancelling: a is cached, b runs.
    assert_eq!(ran_stages(&p, &reg, &run_dir), ["b"]);
}

#[test]
fn output_keys_name_files_in_the_stage_directory() {
    // A `save_…` key is written by the stage, not read: it need not
    // exist, and lands beside the stage's other outputs.
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "[[stage]]\nrun = \"scale\"\nname = \"a\"\ninput = \"in.txt\"\nscale = 3\nsave_log = \"log.txt\"\n",
    );
    let reg = registry();
    let p = parse(&f, &reg).unwrap();
    let run_dir = d.path().join("run");
    run(&p, &reg, &run_dir, &chemomech_core::NoProgress, &mut |_, _| {}).unwrap();
    assert_eq!(std::fs::read_to_string(run_dir.join("a/log.txt")).unwrap(), "scaled by 3");
    assert!(!d.path().join("log.txt").exists());
}

#[test]
fn bad_files_name_file_line_and_key() {
    let d = tempfile::tempdir().unwrap();
    let reg = registry();
    let cases = [
        ("[[stage]]\nrun = \"nope\"\n", ":2:", "unknown stage 'nope'"),
        ("[[stage]]\nrun = \"scale\"\ninput = \"in.txt\"\nbogus = 1\n", ":4:", "unknown key 'bogus'"),
        ("[[stage]]\nrun = \"scale\"\ninput = \"missing.h5\"\n", ":3:", "does not exist"),
        ("[[stage]]\nrun = \"scale\"\ninput = \"in.txt\"\nfast = \"yes\"\n", ":4:", "key 'fast' must be true or false"),
        (
            "[[stage]]\nrun = \"scale\"\ninput = \"in.txt\"\n\nscale = \"abc\"\n",
            ":5:",
            "key 'scale': invalid value 'abc'",
        ),
        ("[[stage]]\nrun = \"scale\"\ninput = \"@later/v.txt\"\n", ":3:", "not a stage before"),
        ("[[stage]]\nrun = \"scale\"\n", ":1:", "missing key 'input'"),
        (
            "[[stage]]\nrun = \"scale\"\ninput = \"in.txt\"\nsave_log = \"../log.txt\"\n",
            ":4:",
            "key 'save_log' must be a file name",
        ),
        ("[[stage]\nrun = 1\n", ":1:", "invalid TOML"),
    ];
    for (toml, line, msg) in cases {
        let f = write(d.path(), toml);
        let e = parse(&f, &reg).unwrap_err().to_string();
        assert!(e.contains(&format!("p.toml{line}")) && e.contains(msg), "{toml:?} gave: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
}

/// A dispatcher that runs stage b itself (writing its output and a part in
/// its work directory) and declines a: b's result is recorded and cached
/// like a stage the runner ran; an interrupted b keeps its work directory
/// for the same key, and only for it.
#[test]
fn dispatched_stages_are_cached_and_keep_their_work_for_the_same_key() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), TWO_STAGES);
    let reg = registry();
    let p = parse(&f, &reg).unwrap();
    let run_dir = d.path().join("run");
    let fail = std::cell::Cell::new(true);
    let works = std::cell::RefCell::new(Vec::new());
    let dispatch = |s: &Dispatched| -> Option<Result<Finished>> {
        if s.stage.name != "b" {
            return None;
        }
        works.borrow_mut().push(s.work.to_path_buf());
        std::fs::create_dir_all(s.work).unwrap();
        std::fs::write(s.work.join("part"), "1").unwrap();
        if fail.get() {
            return Some(Err(Error::cancelled("stopped")));
        }
        assert!(s.params["input"].as_str().unwrap().ends_with("a/v.txt"));
        std::fs::write(s.out, "elsewhere").unwrap();
        Some(Ok(Finished { params: s.params.clone(), summary: json!({"value": -1}), headline: "elsewhere".into() }))
    };
    let go = |disp: Dispatch| run_with(&p, &reg, &run_dir, &chemomech_core::NoProgress, &mut |_, _| {}, Some(disp));
    // Interrupted: the error says so; b's work stays, its partial output does not.
    let e = go(&dispatch).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
    let first = works.borrow()[0].clone();
    assert!(first.join("part").is_file() && !run_dir.join("b").exists());
    // A stale work directory of another key is removed when b runs again.
    std::fs::create_dir_all(run_dir.join(".b.work-0000000000000000")).unwrap();
    fail.set(false);
    let r = go(&dispatch).unwrap();
    assert_eq!(works.borrow()[1], first);
    assert_eq!(std::fs::read_to_string(run_dir.join("b/v.txt")).unwrap(), "elsewhere");
    assert_eq!(r["stages"][1]["summary"]["value"], json!(-1));
    let left: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".work-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Cached now, dispatcher or not.
    assert!(ran_stages(&p, &reg, &run_dir).is_empty());
}
