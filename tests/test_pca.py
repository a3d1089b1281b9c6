"""compare-pca: principal angles, eigen-gap, errors and the plot, on planted subspaces."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.ae import Autoencoder, plot
from embedkit.ae.pca import compare_with_pca, principal_angles, relative_eigengap
from embedkit.cli import main
from embedkit.vectors.formats import save_vectors


def planted(n_rows=2000, n_features=15, k=3, seed=0):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((n_features, k)))[0]
    X = (rng.standard_normal((n_rows, k)) * [3.0, 2.5, 2.0]) @ basis.T
    return X + 0.1 * rng.standard_normal(X.shape) - 2.0


def test_trained_model_is_within_a_degree_untrained_is_not():
    X = planted()
    trained = compare_with_pca(Autoencoder(3, epochs=3, random_state=0).fit(X), X)
    assert max(trained.principal_angles_deg) < 1.0
    assert trained.model_mse <= trained.pca_mse * 1.001
    assert trained.captured_variance_ratio == pytest.approx(
        sum(trained.explained_variance_ratio), rel=1e-4)
    untrained = compare_with_pca(Autoencoder(3, epochs=0, random_state=0).fit(X), X)
    assert max(untrained.principal_angles_deg) > 30
    assert untrained.captured_variance_ratio < 0.5 * trained.captured_variance_ratio


@pytest.mark.parametrize("degrees", [0.05, 7.0, 40.0, 89.0])
def test_rotated_subspace_gives_the_rotation_angle_back(degrees):
    rng = np.random.default_rng(1)
    q = np.linalg.qr(rng.standard_normal((10, 4)))[0]  # 3 basis vectors and one outside
    theta = np.radians(degrees)
    rotated = q[:, :3].copy()
    rotated[:, 1] = np.cos(theta) * q[:, 1] + np.sin(theta) * q[:, 3]
    angles = np.degrees(principal_angles(q[:, :3], rotated @ rng.standard_normal((3, 3))))
    np.testing.assert_allclose(angles, [0, 0, degrees], atol=1e-7)


def test_eigengap_equals_the_one_from_singular_values():
    X = planted()
    singular = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    expected = (singular[2] ** 2 - singular[3] ** 2) / singular[2] ** 2
    result = compare_with_pca(Autoencoder(3, epochs=1, random_state=0).fit(X), X)
    assert result.eigengap == pytest.approx(expected, rel=1e-9)
    assert relative_eigengap(singular ** 2, 2) == pytest.approx(
        (singular[1] ** 2 - singular[2] ** 2) / singular[1] ** 2)


def test_cli_json_keys_on_word_vectors(tmp_path):
    X = planted(n_rows=300).astype(np.float32)
    save_vectors(tmp_path / "v.vec", [f"w{i}" for i in range(300)], X)
    result = CliRunner().invoke(main, ["compare-pca", "--fit", "3", str(tmp_path / "v.vec"),
                                       "--json", "--seed", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"k", "principal_angles_deg", "pca_mse", "model_mse", "explained_variance_ratio",
            "captured_variance_ratio", "eigengap"} <= set(report)
    assert report["k"] == 3 and len(report["principal_angles_deg"]) == 3
    assert max(report["principal_angles_deg"]) < 1.0


def test_cli_model_and_data_table(tmp_path):
    X = planted(n_rows=300)
    np.save(tmp_path / "x.npy", X)
    runner = CliRunner()
    runner.invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden", "2", "-o",
                         str(tmp_path / "m.npz"), "--epochs", "2"])
    result = runner.invoke(main, ["compare-pca", str(tmp_path / "m.npz"),
                                  str(tmp_path / "x.npy")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "k\t2" and "eigengap" in result.stdout
    result = runner.invoke(main, ["compare-pca", str(tmp_path / "x.npy")])
    assert result.exit_code == 2 and "--fit K" in result.output


def test_fit_with_json_keeps_stderr_free_of_epoch_lines(tmp_path):
    """--json is for programs: the training's epoch log stays out of the way (without
    --json it is printed, one line per epoch)."""
    np.save(tmp_path / "x.npy", planted(n_rows=200))
    args = ["compare-pca", "--fit", "2", str(tmp_path / "x.npy")]
    quiet, loud = CliRunner().invoke(main, [*args, "--json"]), CliRunner().invoke(main, args)
    assert quiet.exit_code == loud.exit_code == 0
    assert json.loads(quiet.stdout)["k"] == 2 and quiet.stderr == ""
    assert "epoch 1/" in loud.stderr


def test_plot_without_matplotlib_fails_before_any_work_as_plot_and_map_do(tmp_path,
                                                                           monkeypatch):
    # It trained, reported, then only noted that no plot was written, with exit 0.
    monkeypatch.setattr("embedkit.plots.render.plotting_available", lambda: False)
    np.save(tmp_path / "x.npy", planted(n_rows=200))
    result = CliRunner().invoke(main, ["compare-pca", "--fit", "2", str(tmp_path / "x.npy"),
                                       "--json", "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 1
    assert result.stdout == "" and result.stderr == (
        "embedkit: error: drawing pictures needs matplotlib: pip install 'embedkit[plot]'\n")
    assert not (tmp_path / "p.png").exists()


@pytest.mark.skipif(not plot.plotting_available(),
                    reason="matplotlib (the optional 'plot' extra) is not installed")
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<svg")])
def test_plot_file_is_valid(tmp_path, suffix, magic):
    X = planted(n_rows=200)
    comparison = compare_with_pca(Autoencoder(3, epochs=1, random_state=0).fit(X), X)
    path = tmp_path / f"angles{suffix}"
    plot.plot_comparison(comparison, path)
    data = path.read_bytes()
    assert data.startswith(magic) if suffix == ".png" else magic in data[:2000]


def test_plot_rejects_other_extensions(tmp_path):
    np.save(tmp_path / "x.npy", planted(n_rows=100))
    result = CliRunner().invoke(main, ["compare-pca", "--fit", "2", str(tmp_path / "x.npy"),
                                       "--plot", str(tmp_path / "p.jpg")])
    assert result.exit_code == 1 and "must end in .png or .svg" in result.stderr


@pytest.mark.skipif(not plot.plotting_available(),
                    reason="matplotlib (the optional 'plot' extra) is not installed")
def test_plot_shows_the_angles_the_variances_and_the_models_share(tmp_path):
    """The SVG keeps its text: titles, labels and legend with the report's percentages; one
    orange bar per angle, one blue bar per PCA component, and the model's dashed line at its
    captured variance per component (here 0.6 / 3, the height of the second blue bar)."""
    import re

    from embedkit.ae.pca import Comparison
    from embedkit.plots.render import PALETTE

    comparison = Comparison(k=3, principal_angles_deg=[1.0, 2.0, 30.0], pca_mse=0.1,
                            model_mse=0.2, explained_variance_ratio=[0.5, 0.2, 0.1],
                            captured_variance_ratio=0.6, eigengap=0.125)
    plot.plot_comparison(comparison, tmp_path / "p.svg")
    svg = (tmp_path / "p.svg").read_text()
    assert 'width="648pt" height="259.2pt"' in svg  # 9 × 3.6 inches
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert [t for t in texts if not re.fullmatch(r"[\d.]+", t)] == [
        "principal angle index", "degrees", "angles to the PCA subspace (eigen-gap 12.5%)",
        "component", "share of variance", "explained variance",
        "model, per component (total 60.0%)", "PCA (total 80.0%)"]
    orange, blue = PALETTE[1].lower(), PALETTE[0].lower()

    def bars(colour):  # (floor, top) in y (growing downwards) of each bar of ``colour``
        found = []
        for d in re.findall(rf'<path d="([^"]*)"[^>]*clip-path[^>]*style="fill: {colour}"',
                            svg):
            ys = [float(y) for y in re.findall(r"[ML] [\d.]+ ([\d.]+)", d)]
            found.append((max(ys), min(ys)))
        return found

    angle_bars, variance_bars = bars(orange), bars(blue)
    assert len(angle_bars) == 3 and len(variance_bars) == 3
    heights = [floor - top for floor, top in angle_bars]
    assert heights[1] == pytest.approx(2 * heights[0], rel=1e-4)
    assert heights[2] == pytest.approx(30 * heights[0], rel=1e-4)
    # side by side, each bar at its own place, left to right; the panels fill the picture
    # (constrained layout: no default margins of an eighth of the width)
    lefts = [float(x) for x in re.findall(
        rf'<path d="M ([\d.]+) [\d.]+ [^"]*"[^>]*clip-path[^>]*style="fill: {orange}"', svg)]
    assert lefts == sorted(lefts) and len(set(lefts)) == 3
    panels = [tuple(map(float, m)) for m in re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/>', svg)]
    assert len(panels) == 2 and panels[0][1] == panels[1][1]  # one row
    assert panels[0][0] < 60 and panels[1][0] + panels[1][2] > 620
    # the legend in a smaller font than the axes' labels
    sizes = dict((text, float(size)) for size, text in re.findall(
        r'<text style="font-size: ([\d.]+)px[^>]*>([^<]*)</text>', svg))
    assert sizes["PCA (total 80.0%)"] < sizes["share of variance"]
    line = re.search(rf'<path d="M [\d.]+ ([\d.]+) \nL [\d.]+ ([\d.]+) \n" clip-path[^>]*'
                     rf'stroke-dasharray[^>]*stroke: {orange}', svg)
    assert line and float(line[1]) == float(line[2]) == pytest.approx(variance_bars[1][1],
                                                                      abs=1e-3)
