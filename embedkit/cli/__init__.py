"""The command-line interface: one module per command family, each a thin shell over the library.

Commands are registered by import path and imported only when used, so a quick command never
waits for the imports of a heavy one.
"""

from embedkit.cli.app import main

main.lazy_commands.update({
    "gradcheck": "embedkit.cli.gradcheck:gradcheck",
    "vocab": "embedkit.cli.text:vocab",
    "windows": "embedkit.cli.text:windows",
    "phrases": "embedkit.cli.text:phrases",
    "synth-corpus": "embedkit.cli.text:synth_corpus",
    "train-w2v": "embedkit.cli.w2v:train_w2v",
    "neighbors": "embedkit.cli.vectors:neighbors",
    "index": "embedkit.cli.vectors:index_command",
    "convert": "embedkit.cli.vectors:convert",
    "analogy": "embedkit.cli.vectors:analogy",
    "evaluate": "embedkit.cli.vectors:evaluate",
    "autoencode": "embedkit.cli.ae:autoencode",
    "encode": "embedkit.cli.ae:encode",
    "decode": "embedkit.cli.ae:decode",
    "compare-pca": "embedkit.cli.ae:compare_pca",
    "plot": "embedkit.cli.pictures:plot",
    "export-projector": "embedkit.cli.pictures:export_projector",
    "map": "embedkit.cli.pictures:map_command",
})

__all__ = ["main"]
