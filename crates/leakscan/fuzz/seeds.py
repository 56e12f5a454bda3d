"""Write small valid seed inputs for the walker fuzz target into corpus/walker."""
import gzip, io, json, os, tarfile, zipfile

out = os.path.join(os.path.dirname(__file__), "corpus", "walker")
os.makedirs(out, exist_ok=True)

def tar_bytes(files):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return b.getvalue()

layer1 = tar_bytes([("app/.env", b"X=fuzz-secret-123\n"), ("app/link", None)])
layer2 = tar_bytes([("app/.wh..env", b""), ("etc/.wh..wh..opq", b"")])
config = json.dumps({"config": {"Env": ["A=fuzz-secret-123"]}, "history": [{"created_by": "RUN x"}], "rootfs": {"diff_ids": ["sha256:aa", "sha256:bb"]}}).encode()
manifest = json.dumps([{"Config": "c.json", "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode()
save = tar_bytes([("l1/layer.tar", layer1), ("l2/layer.tar", gzip.compress(layer2)), ("c.json", config), ("manifest.json", manifest)])
z = io.BytesIO()
with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
    zf.writestr("a/b.txt", b"token=Zx81kLm2Qp9vRt3W")
seeds = {
    "docker-save.tar": save,
    "layer.tar.gz": gzip.compress(layer1),
    "nested.zip": z.getvalue(),
    "tar-in-zip.tar": tar_bytes([("x.zip", z.getvalue())]),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
