//! The batch script of a Slurm job array that runs a sweep one shard per
//! task, so a user does not hand-write the `--shard` arithmetic: every
//! path is absolute (tasks start wherever Slurm puts them) and the merge
//! that joins the shards is written beside it.

use std::fmt::Write as _;
use std::path::Path;

/// What the tasks run: the binary, the sweep, where shards go, the flags
/// passed on.
pub struct ArrayJob<'a> {
    pub binary: &'a Path,
    pub sweep_file: &'a Path,
    pub out: &'a Path,
    pub shards: usize,
    pub points: usize,
    /// Flags every task passes on (`--samples N`, `--data-dir D`, `--no-plots`).
    pub flags: &'a [String],
}

fn quoted(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// The script: `#SBATCH --array=0-(N-1)`, one `sweep --shard I/N` per task
/// into `OUT/shardI`, and the `merge` into `OUT/all` as a follow-up job.
pub fn script(job: &ArrayJob) -> String {
    let n = job.shards;
    let bin = quoted(job.binary);
    let out = job.out.display().to_string().replace('\'', r"'\''");
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/bash");
    let _ = writeln!(
        s,
        "# A Slurm job array for the sweep {}: {} points in {n} shards, one per task.",
        job.sweep_file.display(),
        job.points
    );
    let _ = writeln!(
        s,
        "# Submit: sbatch THIS_FILE (add --cpus-per-task=C for C points at once per task)."
    );
    let _ = writeln!(
        s,
        "# When every task has finished (or chain it: sbatch --dependency=afterok:JOBID ...):"
    );
    let _ = writeln!(s, "#   {bin} merge '{out}'/shard* --out '{out}/all'");
    let _ = writeln!(
        s,
        "# A task that died is rerun with the same script; it finishes only its missing points."
    );
    let _ = writeln!(s, "#SBATCH --job-name=neurocycle-sweep");
    let _ = writeln!(s, "#SBATCH --array=0-{}", n - 1);
    let _ = writeln!(s, "#SBATCH --output=slurm-%A_%a.out");
    let _ = writeln!(s, "set -euo pipefail");
    let mut line = format!(
        "exec {bin} sweep {} --out '{out}/shard'\"$SLURM_ARRAY_TASK_ID\" --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\"",
        quoted(job.sweep_file)
    );
    for f in job.flags {
        line += " ";
        line += &format!("'{}'", f.replace('\'', r"'\''"));
    }
    let _ = writeln!(s, "{line}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_task_per_shard_with_absolute_quoted_paths() {
        let flags = ["--samples".to_string(), "2".to_string()];
        let s = script(&ArrayJob {
            binary: Path::new("/opt/nc/neurocycle"),
            sweep_file: Path::new("/home/a b/big.ron"),
            out: Path::new("/scratch/it's/out"),
            shards: 8,
            points: 30,
            flags: &flags,
        });
        assert!(s.contains("#SBATCH --array=0-7\n"));
        assert!(s.contains("--shard \"$SLURM_ARRAY_TASK_ID/8\""));
        assert!(s.contains("'/home/a b/big.ron'"));
        assert!(s.contains(r"--out '/scratch/it'\''s/out/shard'"));
        assert!(s.contains("'--samples' '2'"));
        assert!(
            s.contains("merge '/scratch/it'\\''s/out'/shard* --out '/scratch/it'\\''s/out/all'")
        );
    }
}
