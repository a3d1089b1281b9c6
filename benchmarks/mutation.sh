#!/usr/bin/env bash
# Mutation testing with mutmut (the [dev] extra), one module at a time, each on its own fast
# subset of the tests. Usage, from anywhere:
#
#   bash benchmarks/mutation.sh core                  # a group: core, w2v, text, vectors,
#                                                     # formats or ae (one run each)
#   bash benchmarks/mutation.sh embedkit/text/noise.py embedkit/ae/noise.py
#   bash benchmarks/mutation.sh                       # every group, one after the other
#   MUTATION_ONLY='embedkit.formats.word2vec.x_write_* embedkit.formats.word2vec.x_format_rows*' \
#     bash benchmarks/mutation.sh embedkit/formats/word2vec.py   # only those mutants (mutmut
#                                                     # names, globs): the counts then include
#                                                     # the others as "not checked"
#
# Each module runs in a scratch copy of the tracked files (/tmp/embedkit-mutation-NAME, kept for
# `mutmut results` / `mutmut show MUTANT` there), under `nice -n 15`, with MUTATION_JOBS worker
# processes (default 2). One line per module: mutants, killed, survived, timeouts, untested,
# seconds, CPU seconds (mutmut and its runners) and the load average, then the mutants left to
# kill or write down. The hour on 2 cores is CPU seconds / 2 on cores that are free: on a
# loaded machine the wall time says more about the others' jobs than about the module. Surviving mutants must be killed by a test or listed in
# benchmarks/mutation-equivalent.md with the reason they cannot change behaviour.
#
# Time on a shared 2-core machine (load 10-17), MUTATION_JOBS=2, per module (the figures in
# benchmarks/mutation-equivalent.md): core 13 min for ops, tensor, optim, scatter and schedules
# (gradcheck not yet timed); text 27 min for windows, subsample, noise, idcache, corpus and vocab
# (the other text modules not yet timed); w2v 23 min for sgns and worker, 4 min for config;
# vectors 17 min for query and 9 min for evaluate (on their wider subsets, load 7-11);
# formats 43 min for word2vec.py (load 9-14); ae 6 min for noise.py, 27 min for estimator.py
# (MUTATION_JOBS=1, load 12-14), 5 min for training.py on its own tiny-matrix subset (ninth
# session, MUTATION_JOBS=2, load 11-13; it needed about 3 hours on the ae list).
# With MUTATION_JOBS=1 at load 13-27 (seventh session): w2v/checkpoint 4.5 min, w2v/subwords
# 2.5 min, text/stream 3.7, ranges 2.8, tokenize 3.5, export 2.7, subwords 20 min. w2v/train.py
# ran whole in 115 min on its subset without the accuracy floors (ninth session, one job, load
# 16-21), but its last 70 mutants took 145 s of CPU (tenth session, 54 min of wall time at
# load 11-14): under 1,000 s of CPU for the whole module, under 10 min on 2 free cores. The
# figures above are wall times under load; the CPU column is what the hour is judged by. The
# whole list does not fit in an hour: run the groups separately, and split a group that
# outgrows an hour by naming its modules.
set -euo pipefail
{  # bash parses this block whole before running it: editing the script during a run is safe
root=$(cd "$(dirname "$0")/.." && pwd)
mutmut=${MUTMUT:-$root/.venv/bin/mutmut}
jobs=${MUTATION_JOBS:-2}
read -r -a only <<< "${MUTATION_ONLY:-}"  # no globbing here: mutmut matches the names
[ -x "$mutmut" ] || { echo "mutation.sh: no $mutmut: pip install -e '.[dev]'" >&2; exit 2; }

# module -> the tests that exercise it quickly (mutmut then runs, for each mutant, only those
# of them that call the mutated function). Most important paths first.
tests_for() {
  case "$1" in
    embedkit/text/windows.py|embedkit/text/subsample.py|embedkit/text/noise.py)
      echo "tests/test_text_windows.py tests/test_text_sampling.py tests/test_w2v_behaviour.py" \
           "tests/test_text_cli.py tests/test_bad_input.py" ;;
    embedkit/text/idcache.py)
      echo "tests/test_text_idcache.py tests/test_w2v_no_pairs.py tests/test_text_windows.py" \
           "tests/test_w2v_behaviour.py" ;;
    embedkit/text/stream.py)
      echo "tests/test_text_stream.py tests/test_text_corpus.py tests/test_text_idcache.py tests/test_text_unicode.py" \
           "tests/test_bom.py" ;;
    embedkit/text/ranges.py)  # the cluster's ranges, without its training tests
      echo "tests/test_text_ranges.py" \
           "tests/test_w2v_cluster.py::test_byte_ranges_read_every_line_once_as_a_single_pass" \
           "tests/test_w2v_cluster.py::test_a_compressed_file_is_one_range_read_whole" \
           "tests/test_w2v_cluster.py::test_fsspec_urls_are_cut_and_read_as_local_files" \
           "tests/test_w2v_cluster.py::test_undecodable_bytes_name_the_file_and_byte" \
           "tests/test_w2v_cluster.py::test_shares_cut_the_ids_into_runs_of_whole_sentences" ;;
    embedkit/text/tokenize.py)
      echo "tests/test_text_unicode.py tests/test_text_stream.py tests/test_text_corpus.py" \
           "tests/test_text_vocab.py tests/test_phrases.py tests/test_bom.py" \
           "tests/test_fasttext_lazy.py" ;;
    embedkit/text/subwords.py)  # and the word vectors composed where read (a lazy fastText)
      echo "tests/test_subwords.py tests/test_fasttext_format.py tests/test_fasttext_lazy.py" ;;
    embedkit/text/export.py)
      echo "tests/test_text_export.py tests/test_text_cli.py" ;;
    embedkit/text/phrases.py)
      echo "tests/test_phrases.py" ;;
    embedkit/text/synthetic.py)  # not the tests reading README.md (mutmut does not copy it)
      echo "tests/test_corpora.py::test_shipped_planted_corpus_is_the_generators_default_output" \
           "tests/test_corpora.py::test_planted_analogies_are_recoverable_from_cooccurrence" \
           "tests/test_corpora.py::test_every_planted_word_is_in_the_vocabulary" \
           "tests/test_text_cli.py" ;;
    embedkit/text/*)
      echo "tests/test_text_corpus.py tests/test_text_vocab.py tests/test_text_windows.py" \
           "tests/test_text_sampling.py tests/test_text_cli.py tests/test_bad_input.py" ;;
    embedkit/w2v/sgns.py)
      echo "tests/test_w2v_sgns.py tests/test_w2v_behaviour.py" ;;
    embedkit/w2v/config.py)  # every training test resolves a config: its own tests suffice
      echo "tests/test_w2v_config.py" ;;
    embedkit/w2v/checkpoint.py)
      echo "tests/test_w2v_resume.py tests/test_training_plumbing.py tests/test_w2v_no_pairs.py" \
           "tests/test_w2v_subwords.py::test_resumed_subword_run_is_bit_identical" ;;
    embedkit/w2v/subwords.py)
      echo "tests/test_w2v_subwords.py tests/test_subwords.py tests/test_core_gradcheck.py" ;;
    embedkit/w2v/pool.py)
      echo "tests/test_w2v_pool.py tests/test_w2v.py::test_two_threads_train_as_well" ;;
    embedkit/w2v/train.py)  # tiny corpora: not the accuracy floors (a direct test guards each
      # behaviour they would catch), which made a surviving mutant cost minutes under load; nor
      # the pool's and the subword kernels' slow two-worker tests (their modules' subsets run
      # them; test_a_task_trains_the_same_in_any_worker covers train.py's two-worker path)
      echo "tests/test_w2v_behaviour.py tests/test_w2v_no_pairs.py tests/test_w2v_resume.py" \
           "tests/test_training_plumbing.py tests/test_w2v_subwords.py tests/test_w2v.py" \
           "--deselect=tests/test_w2v.py::test_planted_analogies_are_recovered_and_loss_falls" \
           "--deselect=tests/test_w2v.py::test_untrained_vectors_do_not_pass_the_analogy_bar" \
           "--deselect=tests/test_w2v_subwords.py::test_unseen_inflected_forms_land_near_their_base_forms" \
           "--deselect=tests/test_w2v.py::test_two_threads_train_as_well" \
           "--deselect=tests/test_w2v.py::test_a_warning_in_a_worker_process_reaches_the_user_once" \
           "--deselect=tests/test_w2v_subwords.py::test_two_threads_share_the_subword_rows_at_the_default_batch[cbow]" ;;
    embedkit/w2v/worker.py)  # the w2v list and the subword paths (not their slow tests)
      echo "tests/test_w2v_behaviour.py tests/test_w2v_sgns.py tests/test_w2v.py" \
           "tests/test_w2v_window.py tests/test_w2v_no_pairs.py tests/test_w2v_resume.py" \
           "tests/test_w2v_config.py tests/test_w2v_subwords.py" \
           "--deselect=tests/test_w2v_subwords.py::test_unseen_inflected_forms_land_near_their_base_forms" \
           "--deselect=tests/test_w2v_subwords.py::test_two_threads_share_the_subword_rows_at_the_default_batch[cbow]" ;;
    embedkit/w2v/*)
      echo "tests/test_w2v_behaviour.py tests/test_w2v_sgns.py tests/test_w2v.py" \
           "tests/test_w2v_window.py tests/test_w2v_no_pairs.py tests/test_w2v_resume.py" \
           "tests/test_w2v_config.py" ;;
    embedkit/ae/training.py)  # the loop on tiny matrices: each fit takes milliseconds
      echo "tests/test_ae_training_loop.py tests/test_ae_training.py" ;;
    embedkit/ae/estimator.py)  # the ae list below and the codes written block by block
      echo "tests/test_ae_behaviour.py tests/test_ae_estimator.py tests/test_ae_training.py" \
           "tests/test_ae.py tests/test_pca.py tests/test_ae_streaming.py" \
           "tests/test_ae_text_inputs.py tests/test_ae_models.py tests/test_ae_polish.py" \
           "tests/test_ae_data.py tests/test_ae_checkpoint.py tests/test_ae_write_rows.py" ;;
    embedkit/ae/pca.py|embedkit/ae/plot.py)  # every number against an SVD, the pictures
      echo "tests/test_pca_numbers.py tests/test_pca.py" ;;
    embedkit/ae/gradchecks.py)  # they register again: importing embedkit.ae registered them
      echo "tests/test_ae_gradchecks.py" ;;
    embedkit/ae/*)
      echo "tests/test_ae_behaviour.py tests/test_ae_estimator.py tests/test_ae_training.py" \
           "tests/test_ae.py tests/test_pca.py tests/test_ae_streaming.py" \
           "tests/test_ae_text_inputs.py tests/test_ae_models.py tests/test_ae_polish.py" \
           "tests/test_ae_data.py tests/test_ae_checkpoint.py" ;;
    embedkit/vectors/query.py)
      echo "tests/test_vectors_query.py tests/test_vectors_mmap.py tests/test_vectors_ann.py" \
           "tests/test_cli_messages.py tests/test_bad_input.py" ;;
    embedkit/vectors/evaluate.py)
      echo "tests/test_vectors_evaluate.py tests/test_evaluation_files.py" \
           "tests/test_cli_messages.py tests/test_bad_input.py" ;;
    embedkit/formats/delimited.py)
      echo "tests/test_formats_delimited.py tests/test_ae_text_inputs.py tests/test_formats.py" \
           "tests/test_bom.py" ;;
    embedkit/formats/fasttext.py)
      echo "tests/test_fasttext_format.py tests/test_fasttext_fields.py tests/test_formats.py" \
           "tests/test_vectors_formats.py tests/test_fasttext_lazy.py" ;;
    embedkit/formats/arrays.py)
      echo "tests/test_formats_arrays.py tests/test_formats.py tests/test_vectors_formats.py" \
           "tests/test_io_outputs.py tests/test_vectors_mmap.py tests/test_ae_write_rows.py" \
           "tests/test_vectors_convert.py" ;;
    embedkit/vectors/formats.py)  # the word2vec formats' list and a lazy fastText's
      echo "tests/test_formats_word2vec.py tests/test_formats.py tests/test_vectors_formats.py" \
           "tests/test_vectors_convert.py tests/test_word2vec_writers.py" \
           "tests/test_bad_input.py tests/test_bom.py tests/test_real_vector_files.py" \
           "tests/test_fasttext_lazy.py tests/test_vectors_mmap.py" ;;
    embedkit/vectors/keyed.py)  # lookups, norms, rows in memory, memory-mapped or composed
      echo "tests/test_fasttext_lazy.py tests/test_vectors_query.py tests/test_vectors_mmap.py" \
           "tests/test_vectors_formats.py" ;;
    embedkit/streaming.py)  # blocks of rows in memory, memory-mapped or computed where read
      echo "tests/test_fasttext_lazy.py tests/test_vectors_mmap.py tests/test_ae_streaming.py" \
           "tests/test_vectors_convert.py tests/test_vectors_formats.py" ;;
    embedkit/formats/__init__.py)  # the table: every reader and writer behind it, stdout, FIFOs
      echo "tests/test_formats_table.py tests/test_formats.py tests/test_formats_word2vec.py" \
           "tests/test_formats_arrays.py tests/test_vectors_formats.py tests/test_vectors_convert.py" \
           "tests/test_io_outputs.py tests/test_vectors_mmap.py tests/test_ae_write_rows.py" \
           "tests/test_fasttext_format.py tests/test_fasttext_lazy.py tests/test_bad_input.py" \
           "tests/test_bom.py tests/test_real_vector_files.py tests/test_word2vec_writers.py" ;;
    embedkit/formats/*)
      echo "tests/test_formats_word2vec.py tests/test_formats.py tests/test_vectors_formats.py" \
           "tests/test_formats_table.py" \
           "tests/test_vectors_convert.py tests/test_word2vec_writers.py" \
           "tests/test_bad_input.py tests/test_bom.py tests/test_real_vector_files.py" ;;
    embedkit/core/*)
      echo "tests/test_core_gradcheck.py tests/test_core_optim.py tests/test_core_scatter.py" \
           "tests/test_core_theory.py tests/test_core_tensor.py" ;;
    *) echo "mutation.sh: no test subset for $1" >&2; return 1 ;;
  esac
}

# a group -> its modules, most used first
group() {
  case "$1" in
    core) echo embedkit/core/{ops,tensor,optim,scatter,schedules,gradcheck}.py ;;
    w2v) echo embedkit/w2v/{sgns,worker,train,config,pool,checkpoint,subwords,cluster}.py ;;
    text) echo embedkit/text/{windows,subsample,noise,idcache,corpus,vocab,stream,ranges}.py \
               embedkit/text/{tokenize,subwords,phrases,export,synthetic}.py ;;
    vectors) echo embedkit/vectors/{query,evaluate,formats,keyed}.py ;;
    formats) echo embedkit/formats/{word2vec,__init__,delimited,arrays,fasttext}.py ;;
    ae) echo embedkit/ae/{noise,estimator,training,models,regularizers,blocks,pca,data}.py \
             embedkit/ae/{polish,checkpoint,plot,gradchecks}.py ;;
    *) echo "$1" ;;
  esac
}
[ $# -gt 0 ] || set -- core w2v text vectors formats ae
modules=()
for arg in "$@"; do
  read -r -a expanded <<< "$(group "$arg")"
  modules+=("${expanded[@]}")
done
set -- "${modules[@]}"

printf '%-32s %7s %7s %8s %8s %8s %7s %7s  %s\n' module mutants killed survived timeout untested \
  seconds 'cpu s' 'load (1/5/15 min, at the end)'
for module in "$@"; do
  [ -f "$root/$module" ] || { echo "mutation.sh: no module $module" >&2; exit 2; }
  tests=$(tests_for "$module")
  name=$(basename "${module%.py}")
  work=/tmp/embedkit-mutation-$(echo "${module%.py}" | tr / -)
  rm -rf "$work" && mkdir -p "$work"
  (cd "$root" && git ls-files --cached --others --exclude-standard -z \
     | tar -c --null --ignore-failed-read -T - 2>/dev/null) | tar -x -C "$work"
  # this module only, on its tests only (the [tool.mutmut] section of pyproject.toml)
  "$root/.venv/bin/python" - "$work/pyproject.toml" "$module" $tests <<'PY'
import re, sys
path, module, tests = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(path).read()
quoted = lambda items: "[" + ", ".join(f'"{i}"' for i in items) + "]"
text = re.sub(r"(?ms)^only_mutate = \[.*?\]", f"only_mutate = {quoted([module])}", text)
text = re.sub(r"(?ms)^pytest_add_cli_args_test_selection = \[.*?\]",
              f"pytest_add_cli_args_test_selection = {quoted(tests)}", text)
# tests that interrupt a child `embedkit` process time out under mutmut's forked runner; the
# address-space test's child process (30 s, 600 s under load) would stall every ae mutant, and
# the in-process streaming tests cover the same paths
text = re.sub(r"(?m)^pytest_add_cli_args = \[(.*)\]",
              lambda m: f'pytest_add_cli_args = [{m.group(1)}, "-k", '
                        '"not sigint and not address_space_limit"]', text)
open(path, "w").write(text)
PY
  start=$(date +%s)
  # `times` in the subshell: the CPU of mutmut and of every runner it forked and waited for
  (cd "$work" && nice -n 15 "$mutmut" run --max-children "$jobs" "${only[@]}" >mutmut.log 2>&1 \
     && times >cpu.txt) || {
    echo "mutation.sh: mutmut failed on $module, see $work/mutmut.log" >&2; exit 1; }
  (cd "$work" && "$mutmut" export-cicd-stats >/dev/null 2>&1)
  "$root/.venv/bin/python" - "$work/mutants/mutmut-cicd-stats.json" "$module" \
      "$(( $(date +%s) - start ))" "$work/cpu.txt" <<'PY'
import json, os, re, sys
s = json.load(open(sys.argv[1]))
load = "/".join(f"{x:.1f}" for x in os.getloadavg())
# `times`' second line: the children's user and system time, as 1m2.345s
cpu = sum(int(m) * 60 + float(sec) for m, sec in
          re.findall(r"(\d+)m([\d.]+)s", open(sys.argv[4]).read().splitlines()[1]))
print(f"{sys.argv[2]:32s} {s['total']:7d} {s['killed']:7d} {s['survived']:8d} "
      f"{s['timeout']:8d} {s['no_tests']:8d} {sys.argv[3]:>7s} {cpu:7.0f}  {load}")
PY
  # the mutants to kill or write down (not those MUTATION_ONLY left unchecked)
  (cd "$work" && "$mutmut" results 2>/dev/null | grep -v ': not checked$' || true)
done
exit
}
