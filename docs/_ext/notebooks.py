"""MkDocs hook: publish examples/*.ipynb as pages under examples/.

The notebooks live in examples/ (where users open them and where
tests/test_notebooks.py runs them), outside docs_dir, so they are added
to the site's files here, before mkdocs-jupyter picks up every .ipynb page
(hence the high priority: hooks otherwise run after the plugins), and listed
in the nav's "Examples" section, so a new notebook needs no edit here or in
mkdocs.yml.  Each page's title is the notebook's first heading.
"""
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECTION = "Examples"


def _notebooks() -> list[Path]:
    return sorted(EXAMPLES.glob("*.ipynb"))


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    for entry in config.nav or []:
        if isinstance(entry, dict) and SECTION in entry:
            entry[SECTION] = [f"examples/{nb.name}" for nb in _notebooks()]
            return config
    raise ValueError(f"mkdocs.yml: the nav has no '{SECTION}' section to list examples/*.ipynb in")


@event_priority(100)
def on_files(files: Files, config: MkDocsConfig) -> Files:
    # A plain File rooted at the repository (not File.generated): mkdocs-jupyter's
    # wrapper recomputes the source path from src_dir, which a generated file lacks.
    for notebook in _notebooks():
        files.append(File(f"examples/{notebook.name}", src_dir=str(EXAMPLES.parent),
                          dest_dir=config.site_dir, use_directory_urls=config.use_directory_urls))
    return files
