import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[3] / "apps" / "analysis" / "eis"


def test_engine_sources_import_no_django():
    files = sorted(ENGINE.rglob("*.py"))
    assert files, ENGINE
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n == "django" or n.startswith("django.") for n in names), path


def test_engine_imports_without_django_loaded():
    code = "import sys, apps.analysis.eis as e; assert e.ENGINE_VERSION == '1.3.0'; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ENGINE.parents[2], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
