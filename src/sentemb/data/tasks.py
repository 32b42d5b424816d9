"""The evaluation task registry: every fact about a task in one entry (docs/protocol.md §B).

An entry names the task, its family (STS or transfer), the table header, the reader of its
SentEval-format files, the files of each split (relative to SentEval"s ``downstream`` directory)
with their pinned SHA-256 and the number of examples they give, and, for transfer tasks, the
evaluation protocol, the feature form and the number of classes. Loading, verification,
``prepare``, the transfer dispatch, the table headers and the dev tasks of training all read
these entries: a new SentEval-format task is one entry here (plus a reader only for a new file
format). The checksums are those of ``senteval.tar`` from ``princeton-nlp/datasets-for-simcse``
at the pinned revision ``e145e8b`` (byte-identical to the offline mirror"s SHA256SUMS); the sizes
are the pair counts after dropping unscored STS pairs (3108/1500/3750/3000/1186 for STS12-16).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sentemb.data import readers
from sentemb.data.records import Example
from sentemb.errors import ConfigError

Family = Literal["sts", "transfer"]
# sts_all: one Spearman over every subset concatenated; sts_split: the test split (dev in dev mode);
# nested_kfold: MR/CR/SUBJ/MPQA; dev_selection: SST-2 (L2 picked on dev); kfold_then_test: TREC, MRPC
Protocol = Literal["sts_all", "sts_split", "nested_kfold", "dev_selection", "kfold_then_test"]


@dataclass(frozen=True)
class Split:
    files: tuple[str, ...]  # read together by the task"s reader
    sha256: tuple[str, ...]  # one per file
    size: int  # examples the reader gives (STS: pairs with a gold score)


@dataclass(frozen=True)
class Task:
    name: str
    family: Family
    header: str  # column title in the tables
    reader: Callable[..., list[Example]]
    splits: dict[str, Split]
    protocol: Protocol
    features: Literal["single", "pair"] = "single"  # transfer: u, or MRPC"s [|u - v|, u * v]
    classes: int = 0  # transfer
    f1: bool = False  # transfer: also report F1 of the positive class (MRPC)

    def files(self) -> list[str]:
        return [f for split in self.splits.values() for f in split.files]


def _sts(year: str, subsets: dict[str, tuple[int, str, str]]) -> Task:
    folder = f"STS/{year}-en-test"
    return Task(year, "sts", year, readers.read_sts_subset,
                {s: Split((f"{folder}/STS.input.{s}.txt", f"{folder}/STS.gs.{s}.txt"), (inp, gs), n)
                 for s, (n, inp, gs) in subsets.items()}, "sts_all")


# STS13 has no SMT input: SentEval drops it for licence reasons (the tarball ships only its gold file).
REGISTRY: tuple[Task, ...] = (
    _sts("STS12", {
        "MSRpar": (750, "093b36d9cc1cd26364885c0f5d5be7ed024f475bceb552384f7fd489174b3c4f",
                   "5526be59228bc34ccb3cb6f1f56c0d7278d3419b8886713ae016fd92b151f19c"),
        "MSRvid": (750, "5a007f6882ed3398afdbb0d1ed093457c4adbac82a5b411ea356e0985650c39f",
                   "9c6096c6bcfb0144c8bbddb00900ca9198c88498630cd0c8f08d18365f1d7150"),
        "SMTeuroparl": (459, "971d76409ebd10a2285a846a20fd035e4e4ba2f85054e2869f5b41bb3182ca82",
                        "708530c4d006d06881f3289fce35d624d7efe562dcf0fe5f8aa0eec3a135f6d4"),
        "surprise.OnWN": (750, "1059c1b66fc72071881175754d3a01158e423ec6b032e1dd87b18fc7ecb1e8d9",
                          "088d8ca22c0aa406e4a5d2e6e308a4f38b482b8e736c2445a38ffb6e4c4fb4fd"),
        "surprise.SMTnews": (399, "048cbedbba58a136722e9d102f0416326aa04644180e031318c28caf90258585",
                             "aa6dfc868db333c43dc59be14d46fa6587c7ebddc0d497e717f647bf35121cf1"),
    }),
    _sts("STS13", {
        "FNWN": (189, "7bcc0fc86d30c8980c9ac9735c612492abd236524bec32bed98070e225b2e023",
                 "8ca95b7228119578e2007839cf7969f22c4f1fd41fd610c4b7f9683072d98066"),
        "headlines": (750, "e60c724b4b620802f42d7696f27e6a8153205a716b142f0a051e2b2b2e99e505",
                      "f49f64089011436dd296ef384c07160219406feef7dc4b9fa2af52a519f32bc6"),
        "OnWN": (561, "3c616d878f3d7bfbadce1657bcc5a78d7d429fd10fc2e31195d314543fecab1a",
                 "0cd497aaddb00a2fb6db25f77bccfc09e8aa012e11549b81b434bab1a27ad954"),
    }),
    _sts("STS14", {
        "deft-forum": (450, "7d52c9b130cf0d0291b2f2ea5324363219267ffcecf0a56f4306503adb231714",
                       "ba6dc76696b5c93985590a325b4d142449932cdf0d715b2bab1b1743fe3c488c"),
        "deft-news": (300, "2416e9f1a13136ac213cbfd413d98cd8504edcca21c87deef3aa5c1207bc1448",
                      "105c5b333abd50c274efb4dae9e3e0dab36ed63eee780cfb49955b1586bd62f2"),
        "headlines": (750, "08e808b7786ec7b830badf9843c55fc7930467ae75e2cd6fe8fd518496b66730",
                      "f243c34647255cd0b994565ed4f58dd31506e7d9c9d6250d1a6dd14095625832"),
        "images": (750, "3d44abc6af8d8b1c69b6e93bb386176d5896985dba91a13e5587350e92a90c83",
                   "fc994ebacc7074c332626fa9e29542d7340a48a3cdb999b47cdb59c378523a62"),
        "OnWN": (750, "52f462f085f6920f70115761c50924f16a4fd6caec2cfccec82311619c1be326",
                 "1c80147df270ea4cfce14a47ed29f8a2f10d5dc016d02836077fd786ff7f535b"),
        "tweet-news": (750, "6b0173393868ea87f315f32971bff68b328e466678f481d4710d8488e7cc90de",
                       "0098c644bfeaa2d511a8297b1940771865900c372c9dd49a62726dc5ec02c9a3"),
    }),
    _sts("STS15", {
        "answers-forums": (375, "65e3f55333c53897c6791ff154a490857a827d4699bc2d1f18e53693dbfd0c39",
                           "1644301a7540e5484da285002e9269062852efb2272be614cad99c9530f6a102"),
        "answers-students": (750, "4893f736e84cea176c39c882250f6513d5bbcfa6ebe8d3ffabcef6056d0471a7",
                             "028db213140f8c7aef7497c4ae38b6380938f20359852231669c83dce11c3701"),
        "belief": (375, "ce09c4713480fd622afbc362d22dd7ffb4e5fc6ee676602368af6f63f9ea7cb5",
                   "5736192faaccbdbecd0ef6b73ec04b24115cd2e48d55dc3b1b170da3d2a81c75"),
        "headlines": (750, "91f2a6152c574e17544c5e8a856338fa8632898b44c10d2cc9c9516ddfe682c5",
                      "e8e432f769c8a94ddb62ae3343890ac24a9dd78a116d56c707313bc59413dd56"),
        "images": (750, "98b2f560e4a3e13253f10b7fd8855006dd327ab272559ab690f2c4e1e5aebca7",
                   "ed8878209098c77ca7f02ac413d3fd698f92ad3425999555e50fda89fc46012a"),
    }),
    _sts("STS16", {
        "answer-answer": (254, "92e66262159e39cb623690e243179f447fb08d493ccec6e600a021b76dd6fe9a",
                          "332efd741b0cb247d20dd2a6cec854360c921c7e6b395f328f562d8d26057214"),
        "headlines": (249, "f439e10cf28d9cb4dc7642a072f6ac9ac48922f147241af8fe5df3048f24804b",
                      "01e33a95996201a6e81e3cce9eda0f15048b77613ea64dce2929bb35479f7d85"),
        "plagiarism": (230, "78f5fb0756400485676f82a47703dab0402ba273a887a6d846e9790ff9300f87",
                       "29984944a91aaff484f2b2e5d4d434fc8a6f5ef6f578a880cccd2786f5142fdc"),
        "postediting": (244, "cb8e2337a17ecc60a4fb57ecb17c692e13257802d24c9bd401b4bfa574510463",
                        "81947ed9dbe7f85b7bd249df68ed5c7b2f16f06390ad568eb5554b1e26bc5577"),
        "question-question": (209, "0b8d495236ea8c9e9eddf529b40d8570e4b38ef29a40d194d5487613b064a4bc",
                              "cf9ebf9d140191f73620cda0560947ad9283c910735d0d541b8a401a5e64afb0"),
    }),
    Task("STSBenchmark", "sts", "STS-B", readers.read_stsb, {
        "train": Split(("STS/STSBenchmark/sts-train.csv",),
                  ("6466868d4b49a575530554224fe2e7d8cc03e83e1f326c90e561b81bf5031fec",), 5749),
        "dev": Split(("STS/STSBenchmark/sts-dev.csv",),
                  ("fd3e4e429f32e352c7c7c76aea5c3383ee95eb98e482796b34e4e7b88a8392f3",), 1500),
        "test": Split(("STS/STSBenchmark/sts-test.csv",),
                  ("4cde2a19c9b7232c9ce92a89e5afd99805c8f66ba432a7824e0a5bad1a0a0ea0",), 1379),
    }, "sts_split"),
    Task("SICKRelatedness", "sts", "SICK-R", readers.read_sick, {
        "train": Split(("SICK/SICK_train.txt",),
                  ("d07bdb73963dda1b2012f4d78c24044cd9503b1109218a518a481616973cf960",), 4500),
        "dev": Split(("SICK/SICK_trial.txt",),
                  ("0d0786bd8671a0a70614f2f890b8ab24b3c24d1ccb624bcca87618091fbe4f11",), 500),
        "test": Split(("SICK/SICK_test_annotated.txt",),
                  ("4c9aa1bb3c5bbf732520fe35b23c121739472a38eb47e7d5336e6df51896be02",), 4927),
    }, "sts_split"),
    Task("MR", "transfer", "MR", readers.read_binary, {
        "all": Split(("MR/rt-polarity.pos", "MR/rt-polarity.neg"),
                  ("34e5b0da2d491e46b700b00afe735aaae0962bcfe4f7f22b2d8077e714fa370f",
                   "c4ac36eaa8adc8ee31c31f69594bfbe68d83ef5b6db53f1f19b28c0be52f3999"), 10662),
    }, "nested_kfold", classes=2),
    Task("CR", "transfer", "CR", readers.read_binary, {
        "all": Split(("CR/custrev.pos", "CR/custrev.neg"),
                  ("91a20a4ffeb5d38a39a4087bb247e16538aff21e7d621ae59738379f39f21732",
                   "ec94532766f6f962094841ab3bee2ad6f232f996c3756825a91e78bcc294750f"), 3775),
    }, "nested_kfold", classes=2),
    Task("SUBJ", "transfer", "SUBJ", readers.read_binary, {
        "all": Split(("SUBJ/subj.objective", "SUBJ/subj.subjective"),
                  ("d8ccd43f1674f1c17e4ab717564e3561cfb719b0db4cfb19e5677427c68ff8a1",
                   "274c2ffe59c204dc4df779848561786f59a98cc20dda3cfdd7d9f76a4f730710"), 10000),
    }, "nested_kfold", classes=2),
    Task("MPQA", "transfer", "MPQA", readers.read_binary, {
        "all": Split(("MPQA/mpqa.pos", "MPQA/mpqa.neg"),
                  ("7487dbb74c77383e60b292845495163a9e21fb70a4fdacdda933413e43163f0d",
                   "8da6e035fa4cea02f0555091096b29a6b3995ff0adf41fad25008dcee066b79e"), 10606),
    }, "nested_kfold", classes=2),
    Task("SST2", "transfer", "SST", readers.read_sst2, {
        "train": Split(("SST/binary/sentiment-train",),
                  ("10a92a297ec38e262386e5a2713b4bc70e5d18ced88b7f54bd171a26e5b34ab5",), 67349),
        "dev": Split(("SST/binary/sentiment-dev",),
                  ("9a6c7403b71a9b762158387afe4431253ae10cdfb2319b5275289f3766f48291",), 872),
        "test": Split(("SST/binary/sentiment-test",),
                  ("4fefd1cd67526cf87ebc7fafc3afc21cc7cfa6ae53b45e74f77f9456e3c62752",), 1821),
    }, "dev_selection", classes=2),
    Task("TREC", "transfer", "TREC", readers.read_trec, {
        "train": Split(("TREC/train_5500.label",),
                  ("8bd6e79493f43bbd22c364587366a1dced54e1e31259eaa92721a0f526031116",), 5452),
        "test": Split(("TREC/TREC_10.label",),
                  ("86ad53c8fc9d397ab2f4be7c967d8efb470b260140557d3e57afad69d1b88b76",), 500),
    }, "kfold_then_test", classes=6),
    Task("MRPC", "transfer", "MRPC", readers.read_mrpc, {
        "train": Split(("MRPC/msr_paraphrase_train.txt",),
                  ("60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89",), 4076),
        "test": Split(("MRPC/msr_paraphrase_test.txt",),
                  ("a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784",), 1725),
    }, "kfold_then_test", features="pair", classes=2, f1=True),
)
TASKS: dict[str, Task] = {t.name: t for t in REGISTRY}


def get_task(name: str) -> Task:
    """The entry of ``name``; an unknown name fails with the closest one."""
    if name not in TASKS:
        from sentemb.config.load import suggest

        hint = suggest(name, TASKS) or f"; known: {', '.join(TASKS)}"
        raise ConfigError(f"unknown task '{name}'{hint}")
    return TASKS[name]


def family(name: str) -> list[str]:
    """The task names of one family (``sts`` or ``transfer``), in registry (= table column) order."""
    return [t.name for t in TASKS.values() if t.family == name]


def split_tasks() -> list[str]:
    """The STS tasks reported from a train/dev/test split (STS-B, SICK-R): the dev tasks of training."""
    return [t.name for t in TASKS.values() if t.protocol == "sts_split"]


def header(name: str) -> str:
    return TASKS[name].header if name in TASKS else name
