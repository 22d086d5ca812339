"""Deterministic generator of the synthetic demo region, shaped like Ставропольский край.

Everything comes from one ``random.Random(seed)``: the same (seed, scale) always gives an equal
:class:`Region`; nothing reads the clock or the global ``random`` state, and no set or dict of
strings is iterated to build output (string hashing is randomised per process).

FULL scale follows seed 004 (the krai's regional project "Цифровой контур здравоохранения"):
474 medical organisations' structural units reach 100 % MIS coverage (row 2.5 of its indicator
table), of them 306 ФАП и ФП connected to the Internet (row 2.4). FULL therefore has exactly
``FULL_SITES`` departments in all, ``FULL_FELDSHER_POSTS`` of them feldsher posts (one department
each). The seed's prose also mentions 780 units "including 306 ФАП" (474 + 306); the indicator
table's figure is the one used here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from functools import lru_cache

from integrations.demo_region.model import (
    AmbulanceStation,
    Department,
    District,
    Doctor,
    DrugRight,
    MedicalOrganisation,
    Person,
    Pharmacy,
    Region,
    RegionScale,
    Specialty,
    WorkingHours,
)

REGION_CODE = "26"
REGION_NAME = "Ставропольский край"
TIMEZONE = "Europe/Moscow"
# Ages are computed against this date, never against today.
REFERENCE_DATE = date(2026, 1, 1)
# (min, max) latitude and longitude of every generated point.
LAT_RANGE = (44.0, 46.2)
LON_RANGE = (40.9, 45.6)
OID_PREFIX = "1.2.643.5.1.13.13.12.2.26."

FULL_SITES = 474  # seed 004, indicator 2.5: structural units incl. ФАП и ФП
FULL_FELDSHER_POSTS = 306  # seed 004, indicator 2.4: ФАП и ФП
FULL_PEOPLE = 200

# -- specialties ------------------------------------------------------------------------------
# V021 IDSPEC codes. 76/49/39 are checked against public registry code; the others follow the
# same nomenclature but were not checked one by one. 206 is "лечебное дело" (the feldsher).
THERAPIST = "76"
GP = "39"  # общая врачебная практика (семейная медицина)
PEDIATRICIAN = "49"
SURGEON = "86"
OPHTHALMOLOGIST = "46"
ENT = "45"
GYNAECOLOGIST = "2"
DENTIST = "68"
UROLOGIST = "82"
NEUROLOGIST = "32"
CARDIOLOGIST = "22"
ENDOCRINOLOGIST = "88"
DERMATOLOGIST = "13"
TRAUMATOLOGIST = "79"
FELDSHER = "206"
# Prevention and diagnostic rooms (кабинеты) an adult polyclinic publishes as bookable resources for the
# first stage of dispanserization (Приказ Минздрава России от 27.04.2021 № 404н). They are not V021 doctor
# specialties: the hub lists a room as a resource of its own service, so their codes are this region's
# (9001-9006, outside the V021 range).
PREVENTION_ROOM = "9001"  # кабинет (отделение) медицинской профилактики
ECG_ROOM = "9002"
FLUOROGRAPHY_ROOM = "9003"
MAMMOGRAPHY_ROOM = "9004"
TREATMENT_ROOM = "9005"  # процедурный кабинет: blood samples
ENDOSCOPY_ROOM = "9006"  # эндоскопический кабинет: the ЭГДС of the cancer screening at 45 (404н, Прил. № 2, п. 4)

SPECIALTIES: tuple[Specialty, ...] = (
    Specialty(THERAPIST, "Терапевт", 15, True),
    Specialty(GP, "Врач общей практики", 20, True),
    Specialty(PEDIATRICIAN, "Педиатр", 15, True),
    Specialty(SURGEON, "Хирург", 15, True),
    Specialty(OPHTHALMOLOGIST, "Офтальмолог", 15, True),
    Specialty(ENT, "Оториноларинголог", 12, True),
    Specialty(GYNAECOLOGIST, "Акушер-гинеколог", 20, True),
    Specialty(DENTIST, "Стоматолог", 30, True),
    Specialty(UROLOGIST, "Уролог", 20, True),
    Specialty(NEUROLOGIST, "Невролог", 20, False),
    Specialty(CARDIOLOGIST, "Кардиолог", 20, False),
    Specialty(ENDOCRINOLOGIST, "Эндокринолог", 20, False),
    Specialty(DERMATOLOGIST, "Дерматовенеролог", 15, False),
    Specialty(TRAUMATOLOGIST, "Травматолог-ортопед", 15, False),
    Specialty(FELDSHER, "Фельдшер", 15, True),
    Specialty(PREVENTION_ROOM, "Кабинет медицинской профилактики", 15, True),
    Specialty(ECG_ROOM, "Кабинет ЭКГ", 12, True),
    Specialty(FLUOROGRAPHY_ROOM, "Флюорографический кабинет", 12, True),
    Specialty(MAMMOGRAPHY_ROOM, "Маммографический кабинет", 15, True),
    Specialty(TREATMENT_ROOM, "Процедурный кабинет", 12, True),
    Specialty(ENDOSCOPY_ROOM, "Эндоскопический кабинет", 30, True),
)

# (code, name parts as Doctor's last/first/middle name, room number) of each adult polyclinic's rooms.
PREVENTION_ROOMS: tuple[tuple[str, tuple[str, str, str], str], ...] = (
    (PREVENTION_ROOM, ("Кабинет", "медицинской", "профилактики"), "105"),
    (TREATMENT_ROOM, ("Процедурный", "кабинет", ""), "110"),
    (ECG_ROOM, ("Кабинет", "ЭКГ", ""), "112"),
    (FLUOROGRAPHY_ROOM, ("Флюорографический", "кабинет", ""), "020"),
    (MAMMOGRAPHY_ROOM, ("Маммографический", "кабинет", ""), "022"),
    (ENDOSCOPY_ROOM, ("Эндоскопический", "кабинет", ""), "118"),
)

# First-level doctors that make a department of each kind bookable without a referral.
FIRST_LEVEL: dict[str, tuple[str, ...]] = {
    "adult": (THERAPIST, GP),
    "children": (PEDIATRICIAN, GP),
    "mixed": (GP,),
}

# Staffing templates: (specialty code, min, max) doctors per department.
_STAFF: dict[str, tuple[tuple[str, int, int], ...]] = {
    "polyclinic": (
        (THERAPIST, 3, 4),
        (GP, 0, 1),
        (SURGEON, 1, 1),
        (OPHTHALMOLOGIST, 1, 1),
        (ENT, 1, 1),
        (GYNAECOLOGIST, 1, 1),
        (NEUROLOGIST, 0, 1),
        (UROLOGIST, 0, 1),
        (DENTIST, 0, 1),
    ),
    "children": ((PEDIATRICIAN, 3, 4), (OPHTHALMOLOGIST, 0, 1), (ENT, 0, 1), (SURGEON, 0, 1)),
    "consultative": (
        (CARDIOLOGIST, 1, 1),
        (ENDOCRINOLOGIST, 1, 1),
        (NEUROLOGIST, 1, 1),
        (UROLOGIST, 0, 1),
        (DERMATOLOGIST, 1, 1),
        (TRAUMATOLOGIST, 1, 1),
    ),
    "rural_adult": (
        (THERAPIST, 2, 2),
        (GP, 0, 1),
        (SURGEON, 1, 1),
        (GYNAECOLOGIST, 1, 1),
        (OPHTHALMOLOGIST, 0, 1),
    ),
    "rural_children": ((PEDIATRICIAN, 1, 2),),
    "ambulatory": ((GP, 1, 2), (DENTIST, 0, 1)),
    "feldsher_post": ((FELDSHER, 1, 1),),
}


# -- districts --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _DistrictInfo:
    key: str
    name: str
    okato: str
    centre: str  # "г. Михайловск"
    lat: float
    lon: float
    phone_code: str  # long-distance code without the leading 8's trunk prefix: "8652"
    hospital_adjective: str  # "Шпаковская" (районная больница); "" for a city
    genitive: str  # "г. Ставрополя" for a city's MO names; "" for a district

    @property
    def is_city(self) -> bool:
        return not self.hospital_adjective


def _city_info(row: tuple[str, str, str, str, float, float, str, str]) -> _DistrictInfo:
    key, name, okato, centre, lat, lon, code, genitive = row
    return _DistrictInfo(key, name, okato, centre, lat, lon, code, "", genitive)


def _rural_info(row: tuple[str, str, str, float, float, str]) -> _DistrictInfo:
    key, adjective, centre, lat, lon, code = row
    stem = adjective[:-2]  # "Шпаковская" -> "Шпаковск", "Предгорная" -> "Предгорн"
    masculine = stem + ("ый" if stem.endswith("н") else "ий")
    return _DistrictInfo(key, f"{masculine} муниципальный округ", "", centre, lat, lon, code, adjective, "")


# (key, name, OKATO, centre, lat, lon, phone code, genitive for MO names). Approximate real
# centres; Кисловодск and Новопавловск lie just south of 44.0 and are nudged into the demo box.
_CITIES: tuple[_DistrictInfo, ...] = tuple(
    _city_info(row)
    for row in (
        (
            "stavropol",
            "город Ставрополь",
            "07401000000",
            "г. Ставрополь",
            45.0448,
            41.9691,
            "8652",
            "г. Ставрополя",
        ),
        (
            "pyatigorsk",
            "город-курорт Пятигорск",
            "07427000000",
            "г. Пятигорск",
            44.0486,
            43.0594,
            "8793",
            "г. Пятигорска",
        ),
        (
            "kislovodsk",
            "город-курорт Кисловодск",
            "07415000000",
            "г. Кисловодск",
            44.03,
            42.7167,
            "87937",
            "г. Кисловодска",
        ),
        (
            "essentuki",
            "город-курорт Ессентуки",
            "07410000000",
            "г. Ессентуки",
            44.0444,
            42.86,
            "87934",
            "г. Ессентуки",
        ),
        (
            "zheleznovodsk",
            "город-курорт Железноводск",
            "07412000000",
            "г. Железноводск",
            44.1394,
            43.0197,
            "87932",
            "г. Железноводска",
        ),
        (
            "lermontov",
            "город Лермонтов",
            "07418000000",
            "г. Лермонтов",
            44.1053,
            42.9731,
            "87935",
            "г. Лермонтова",
        ),
        (
            "nevinnomyssk",
            "город Невинномысск",
            "07424000000",
            "г. Невинномысск",
            44.6333,
            41.9444,
            "86554",
            "г. Невинномысска",
        ),
    )
)

# (key, adjective of the district hospital, centre, lat, lon, phone code)
_RURAL: tuple[_DistrictInfo, ...] = tuple(
    _rural_info(row)
    for row in (
        ("aleksandrovsky", "Александровская", "с. Александровское", 44.717, 43.0, "86557"),
        ("andropovsky", "Андроповская", "с. Курсавка", 44.456, 42.509, "86556"),
        ("apanasenkovsky", "Апанасенковская", "с. Дивное", 45.907, 43.356, "86555"),
        ("arzgirsky", "Арзгирская", "с. Арзгир", 45.372, 44.221, "86560"),
        ("blagodarnensky", "Благодарненская", "г. Благодарный", 45.099, 43.432, "86549"),
        ("budyonnovsky", "Будённовская", "г. Будённовск", 44.784, 44.165, "86559"),
        ("georgievsky", "Георгиевская", "г. Георгиевск", 44.151, 43.473, "87951"),
        ("grachyovsky", "Грачёвская", "с. Грачёвка", 45.175, 42.4, "86540"),
        ("izobilnensky", "Изобильненская", "г. Изобильный", 45.368, 41.709, "86545"),
        ("ipatovsky", "Ипатовская", "г. Ипатово", 45.718, 42.897, "86542"),
        ("kirovsky", "Кировская", "г. Новопавловск", 44.03, 43.634, "87938"),
        ("kochubeyevsky", "Кочубеевская", "с. Кочубеевское", 44.683, 41.823, "86550"),
        ("krasnogvardeysky", "Красногвардейская", "с. Красногвардейское", 45.848, 41.515, "86541"),
        ("kursky", "Курская", "ст-ца Курская", 44.047, 44.477, "87964"),
        ("levokumsky", "Левокумская", "с. Левокумское", 44.823, 44.659, "86543"),
        ("mineralovodsky", "Минераловодская", "г. Минеральные Воды", 44.21, 43.135, "87922"),
        ("neftekumsky", "Нефтекумская", "г. Нефтекумск", 44.754, 44.986, "86558"),
        ("novoaleksandrovsky", "Новоалександровская", "г. Новоалександровск", 45.493, 41.215, "86544"),
        ("novoselitsky", "Новоселицкая", "с. Новоселицкое", 44.751, 43.44, "86548"),
        ("petrovsky", "Петровская", "г. Светлоград", 45.329, 42.856, "86547"),
        ("predgorny", "Предгорная", "ст-ца Ессентукская", 44.033, 42.862, "87961"),
        ("sovetsky", "Советская", "г. Зеленокумск", 44.406, 43.876, "86552"),
        ("stepnovsky", "Степновская", "с. Степное", 44.268, 44.594, "86563"),
        ("trunovsky", "Труновская", "с. Донское", 45.356, 42.06, "86546"),
        ("turkmensky", "Туркменская", "с. Летняя Ставка", 45.4, 43.05, "86565"),
        ("shpakovsky", "Шпаковская", "г. Михайловск", 45.129, 42.025, "86553"),
    )
)


def _okato(info: _DistrictInfo, index: int) -> str:
    # Cities carry their real OKATO; districts get OKATO-shaped codes in alphabetical order.
    return info.okato or f"072{index + 2:02d}000000"


# -- name and address pools -------------------------------------------------------------------
_SURNAMES = (
    "Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов", "Новиков",
    "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
    "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Борисов",
    "Яковлев", "Григорьев", "Романов", "Сергеев", "Кузьмин", "Фролов", "Дмитриев", "Гусев", "Ильин",
    "Максимов", "Поляков", "Сорокин", "Виноградов", "Белов", "Медведев", "Антонов", "Тарасов", "Жуков",
    "Баранов", "Филиппов", "Комаров", "Давыдов", "Беляев", "Богданов", "Осипов", "Сидоров", "Матвеев",
    "Титов", "Марков", "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов",
    "Тихонов", "Казаков", "Данилов", "Фомин", "Чернов", "Мартынов", "Ефимов", "Назаров", "Калинин",
    "Исаев", "Быков", "Маслов", "Лазарев", "Воронин", "Климов", "Голубев", "Прохоров", "Наумов",
    "Трофимов", "Леонов", "Ермаков", "Гончаров", "Никифоров", "Котов", "Громов", "Кириллов", "Панов",
    "Бондаренко", "Ткаченко", "Шевченко", "Коваленко", "Кравченко", "Руденко",
    "Арутюнян", "Саркисян", "Оганесян", "Петросян", "Григорян",
)  # fmt: skip
# Male first name -> (male patronymic, female patronymic).
_MALE_NAMES: dict[str, tuple[str, str]] = {
    "Александр": ("Александрович", "Александровна"),
    "Алексей": ("Алексеевич", "Алексеевна"),
    "Андрей": ("Андреевич", "Андреевна"),
    "Артём": ("Артёмович", "Артёмовна"),
    "Владимир": ("Владимирович", "Владимировна"),
    "Дмитрий": ("Дмитриевич", "Дмитриевна"),
    "Евгений": ("Евгеньевич", "Евгеньевна"),
    "Иван": ("Иванович", "Ивановна"),
    "Игорь": ("Игоревич", "Игоревна"),
    "Кирилл": ("Кириллович", "Кирилловна"),
    "Максим": ("Максимович", "Максимовна"),
    "Михаил": ("Михайлович", "Михайловна"),
    "Николай": ("Николаевич", "Николаевна"),
    "Олег": ("Олегович", "Олеговна"),
    "Павел": ("Павлович", "Павловна"),
    "Роман": ("Романович", "Романовна"),
    "Сергей": ("Сергеевич", "Сергеевна"),
    "Юрий": ("Юрьевич", "Юрьевна"),
    "Виктор": ("Викторович", "Викторовна"),
    "Денис": ("Денисович", "Денисовна"),
    "Антон": ("Антонович", "Антоновна"),
    "Константин": ("Константинович", "Константиновна"),
    "Георгий": ("Георгиевич", "Георгиевна"),
    "Вадим": ("Вадимович", "Вадимовна"),
    "Григорий": ("Григорьевич", "Григорьевна"),
    "Илья": ("Ильич", "Ильинична"),
    "Станислав": ("Станиславович", "Станиславовна"),
    "Тимофей": ("Тимофеевич", "Тимофеевна"),
    "Фёдор": ("Фёдорович", "Фёдоровна"),
    "Матвей": ("Матвеевич", "Матвеевна"),
    "Руслан": ("Русланович", "Руслановна"),
    "Егор": ("Егорович", "Егоровна"),
    "Пётр": ("Петрович", "Петровна"),
    "Василий": ("Васильевич", "Васильевна"),
    "Анатолий": ("Анатольевич", "Анатольевна"),
}
_MALE_FIRST = tuple(_MALE_NAMES)
_FEMALE_FIRST = (
    "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Екатерина", "Юлия",
    "Анастасия", "Марина", "Людмила", "Галина", "Валентина", "Надежда", "Дарья", "Ксения", "Алина",
    "Виктория", "Полина", "Софья", "Вера", "Любовь", "Оксана", "Лариса", "Кристина", "Алёна", "Елизавета",
)  # fmt: skip

_STREETS = (
    "ул. Ленина", "ул. Мира", "ул. Октябрьская", "ул. Советская", "ул. Комсомольская", "ул. Пушкина",
    "ул. Гагарина", "ул. Кирова", "ул. Садовая", "ул. Лермонтова", "ул. Школьная", "ул. Гоголя",
    "ул. Чапаева", "ул. Победы", "ул. Калинина", "ул. Московская", "ул. Пролетарская", "ул. Красная",
    "ул. Шоссейная", "ул. Молодёжная", "ул. Заводская", "ул. Первомайская", "пер. Почтовый",
)  # fmt: skip
_CITY_STREETS: dict[str, tuple[str, ...]] = {
    "stavropol": (
        "пр-т Карла Маркса", "ул. Доваторцев", "ул. 50 лет ВЛКСМ", "ул. Семашко", "ул. Пирогова",
        "ул. Тухачевского", "ул. Льва Толстого", "пр-т Кулакова", "ул. Ломоносова", "ул. Голенева",
        "ул. Мира", "ул. Ленина", "ул. Октябрьской Революции", "ул. Лермонтова", "ул. Российская",
    ),
    "pyatigorsk": (
        "пр-т Калинина", "ул. Ермолова", "ул. Козлова", "пр-т Кирова", "ул. Февральская",
        "ул. Бульварная", "ул. Московская", "ул. Орджоникидзе", "ул. Панагюрище", "ул. Адмиральского",
    ),
}  # fmt: skip
_VILLAGES = (
    ("с.", "Надежда"), ("с.", "Верхнерусское"), ("с.", "Татарка"), ("с.", "Пелагиада"), ("с.", "Казинка"),
    ("х.", "Демино"), ("ст-ца", "Темнолесская"), ("ст-ца", "Новомарьевская"), ("с.", "Сергиевка"),
    ("с.", "Ивановка"), ("ст-ца", "Константиновская"), ("с.", "Дубовка"), ("х.", "Садовый"),
    ("с.", "Рогатая Балка"), ("с.", "Кугульта"), ("с.", "Крутоярское"), ("с.", "Спицевка"),
    ("с.", "Бешпагир"), ("п.", "Рыздвяный"), ("с.", "Московское"), ("с.", "Подлужное"), ("п.", "Передовой"),
    ("п.", "Виноградный"), ("с.", "Обильное"), ("с.", "Краснокумское"), ("ст-ца", "Лысогорская"),
    ("с.", "Новозаведенное"), ("х.", "Шаумянский"), ("ст-ца", "Балковская"), ("с.", "Заветное"),
    ("с.", "Ульяновка"), ("с.", "Прасковея"), ("с.", "Покойное"), ("с.", "Орловка"), ("с.", "Архангельское"),
    ("п.", "Красный Октябрь"), ("х.", "Дружба"), ("с.", "Первомайское"), ("п.", "Красочный"),
    ("с.", "Октябрьское"), ("ст-ца", "Вознесеновская"), ("с.", "Розовка"), ("п.", "Янкуль"),
    ("х.", "Овражный"), ("с.", "Малая Джалга"), ("с.", "Кевсала"), ("с.", "Добровольное"),
    ("п.", "Урожайное"), ("п.", "Новокавказский"), ("с.", "Калиновское"), ("с.", "Кианкиз"),
    ("с.", "Солуно-Дмитриевское"), ("с.", "Тищенское"), ("х.", "Базовый"), ("с.", "Дербетовка"),
    ("с.", "Марьины Колодцы"), ("ст-ца", "Старопавловская"), ("с.", "Китаевское"), ("х.", "Восточный"),
    ("с.", "Высоцкое"),
)  # fmt: skip
_COMMERCIAL_PHARMACIES = ("Семейная", "Вита-Плюс", "Панацея", "Будь здоров", "Фармация Юга", "Доктор Айболит")
_MOBILE_PREFIXES = ("918", "928", "961", "962", "905", "988", "964", "919")
_MAIL_DOMAINS = ("mail.ru", "yandex.ru", "gmail.com", "rambler.ru")
_SMOS = (
    'ООО "Капитал МС" - филиал в Ставропольском крае',
    'АО "Страховая компания "СОГАЗ-Мед" - Ставропольский филиал',
)
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        (
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "",
            "y",
            "",
            "e",
            "yu",
            "ya",
        ),
        strict=True,
    )
)

# Preferential drug categories: code -> (category, name). Federal codes follow the federal
# register of people entitled to social help (082/083: disability groups II/III); the regional
# code is synthetic.
_DRUG_RIGHTS: dict[str, tuple[str, str]] = {
    "082": ("federal", "Инвалиды II группы"),
    "083": ("federal", "Инвалиды III группы"),
    "R01": ("regional", "Сахарный диабет (региональная льгота)"),
}


# -- small helpers ----------------------------------------------------------------------------
def snils_control(number: str) -> int:
    """SNILS control number of the 9-digit body: digits weighted 9..1, reduced modulo 101."""
    total = sum(int(d) * (9 - i) for i, d in enumerate(number))
    if total > 101:
        total %= 101
    return 0 if total in (100, 101) else total


def format_snils(number: str) -> str:
    return f"{number[0:3]}-{number[3:6]}-{number[6:9]} {snils_control(number):02d}"


def snils_is_valid(snils: str) -> bool:
    """Check a SNILS written as "123-456-789 01" (or as 11 bare digits)."""
    digits = "".join(c for c in snils if c.isdigit())
    if len(digits) != 11:
        return False
    body = digits[:9]
    if int(body) <= 1001998:  # numbers up to 001-001-998 carry no control number
        return False
    return snils_control(body) == int(digits[9:])


def luhn_digit(body: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def _female_surname(base: str) -> str:
    return base + "а" if base.endswith(("ов", "ев", "ёв", "ин")) else base


def _surname(base: str, sex: str) -> str:
    return base if sex == "M" else _female_surname(base)


def _translit(text: str) -> str:
    return "".join(_TRANSLIT.get(c, c) for c in text.lower())


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0] + 0.001), bounds[1] - 0.001)


class _Context:
    """The rng plus the registries that keep generated identifiers unique."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._used: dict[str, set[str]] = {}
        self._counters: dict[str, int] = {}

    def next_id(self, namespace: str, start: int) -> str:
        value = self._counters.get(namespace, start)
        self._counters[namespace] = value + 1
        return str(value)

    def unique(self, namespace: str, make: Callable[[], str]) -> str:
        used = self._used.setdefault(namespace, set())
        while True:
            value = make()
            if value not in used:
                used.add(value)
                return value

    # identifiers
    def snils(self) -> str:
        return self.unique("snils", lambda: format_snils(f"{self.rng.randint(2_000_000, 999_999_999):09d}"))

    def oms_policy(self) -> str:
        def make() -> str:
            body = "07" + "".join(str(self.rng.randint(0, 9)) for _ in range(13))  # 07: OKATO of the krai
            return body + str(luhn_digit(body))

        return self.unique("policy", make)

    def esia_oid(self) -> str:
        return self.unique("esia", lambda: str(self.rng.randint(1_000_000_000, 1_199_999_999)))

    def mo_oid(self) -> str:
        return self.unique("oid", lambda: f"{OID_PREFIX}{self.rng.randint(1000, 9999)}")

    # places
    def point(self, lat: float, lon: float, spread: float) -> tuple[float, float]:
        dlat = self.rng.uniform(-spread, spread)
        dlon = self.rng.uniform(-spread, spread) * 1.4  # a degree of longitude is shorter here
        return round(_clamp(lat + dlat, LAT_RANGE), 6), round(_clamp(lon + dlon, LON_RANGE), 6)

    def street(self, info: _DistrictInfo) -> str:
        return self.rng.choice(_CITY_STREETS.get(info.key, _STREETS))

    def address(self, info: _DistrictInfo, place: str | None = None, flat: bool = False) -> str:
        house = f"д. {self.rng.randint(1, 180)}"
        if self.rng.random() < 0.15:
            house += self.rng.choice(("а", "б", "/1", "/2"))
        tail = f", кв. {self.rng.randint(1, 240)}" if flat else ""
        street = self.street(info) if place is None else self.rng.choice(_STREETS)
        where = place or info.centre
        prefix = "" if info.is_city else f"{info.name}, "
        return f"{prefix}{where}, {street}, {house}{tail}"

    def landline(self, info: _DistrictInfo) -> str:
        local_len = 10 - len(info.phone_code)
        digits = f"{self.rng.randint(2 * 10 ** (local_len - 1), 10**local_len - 1)}"
        head = digits[: local_len - 4]
        return f"+7 ({info.phone_code}) {head}-{digits[-4:-2]}-{digits[-2:]}"

    def mobile(self) -> str:
        return self.unique(
            "mobile", lambda: f"+7({self.rng.choice(_MOBILE_PREFIXES)}){self.rng.randint(0, 9_999_999):07d}"
        )

    def date_between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    def name(self, sex: str) -> tuple[str, str, str]:
        last = _surname(self.rng.choice(_SURNAMES), sex)
        first = self.rng.choice(_MALE_FIRST if sex == "M" else _FEMALE_FIRST)
        father = _MALE_NAMES[self.rng.choice(_MALE_FIRST)]
        return last, first, father[0] if sex == "M" else father[1]


# -- organisations ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _DeptPlan:
    name: str
    kind: str  # adult | children | mixed
    staff: str  # key of _STAFF
    place: str | None = None  # a village ("с. Надежда") for rural units away from the centre


@dataclass(frozen=True)
class _MoPlan:
    district: _DistrictInfo
    kind: str
    name: str
    short_name: str
    attaches: bool
    departments: tuple[_DeptPlan, ...]


def _shifts(ctx: _Context, specialty: str, staff: str, saturday: bool) -> tuple[WorkingHours, ...]:
    rng = ctx.rng
    if staff == "feldsher_post":
        return tuple(WorkingHours(d, time(8), time(16)) for d in range(5))
    if staff == "consultative":
        start = rng.choice((time(8), time(9)))
        return tuple(WorkingHours(d, start, time(start.hour + 6)) for d in range(5))
    morning, afternoon = (time(8), time(14)), (time(14), time(20))
    pattern = rng.choice(("morning", "afternoon", "alternating", "alternating"))
    hours = []
    for day in range(5):
        if pattern == "morning":
            shift = morning
        elif pattern == "afternoon":
            shift = afternoon
        else:
            shift = morning if day % 2 == 0 else afternoon
        hours.append(WorkingHours(day, *shift))
    first_level = specialty in (THERAPIST, GP, PEDIATRICIAN)
    if saturday or (first_level and rng.random() < 0.35):
        hours.append(WorkingHours(5, time(9), time(13)))
    return tuple(hours)


def _doctor(ctx: _Context, specialty: str, department_id: str, staff: str, saturday: bool = False) -> Doctor:
    rng = ctx.rng
    sex = "F" if rng.random() < (0.8 if specialty in (PEDIATRICIAN, GYNAECOLOGIST, FELDSHER) else 0.6) else "M"
    last, first, middle = ctx.name(sex)
    room = str(rng.randint(1, 4) * 100 + rng.randint(1, 40)) if staff != "feldsher_post" else "1"
    return Doctor(
        id=ctx.next_id("doctor", 10001),
        snils=ctx.snils(),
        last_name=last,
        first_name=first,
        middle_name=middle,
        specialty_code=specialty,
        department_id=department_id,
        room=room,
        hours=_shifts(ctx, specialty, staff, saturday),
        weeks_ahead=3 if staff == "consultative" else rng.choice((2, 2, 3)),
    )


def _build_organisation(ctx: _Context, plan: _MoPlan) -> MedicalOrganisation:
    info = plan.district
    mo_id = ctx.next_id("mo", 101)
    departments: list[Department] = []
    doctors: list[Doctor] = []
    for dplan in plan.departments:
        spread = 0.12 if dplan.place else (0.03 if info.is_city else 0.02)
        lat, lon = ctx.point(info.lat, info.lon, spread)
        address = ctx.address(info, dplan.place)  # further town units stand elsewhere in the town
        dep = Department(ctx.next_id("department", 1001), mo_id, dplan.name, dplan.kind, address, lat, lon)
        departments.append(dep)
        # a polyclinic unit's first doctor (a терапевт or педиатр) always keeps a Saturday shift
        saturday = dplan.staff in ("polyclinic", "children", "rural_adult")
        for code, low, high in _STAFF[dplan.staff]:
            for _ in range(ctx.rng.randint(low, high)):
                doctors.append(_doctor(ctx, code, dep.id, dplan.staff, saturday))
                saturday = False
    main = departments[0]
    return MedicalOrganisation(
        id=mo_id,
        oid=ctx.mo_oid(),
        name=plan.name,
        short_name=plan.short_name,
        district_id=info.key,
        address=main.address,
        latitude=main.latitude,
        longitude=main.longitude,
        phone=ctx.landline(info),
        kind=plan.kind,
        attaches=plan.attaches,
        departments=tuple(departments),
        doctors=tuple(doctors),
    )


def _polyclinic(info: _DistrictInfo, n: int, units: int) -> _MoPlan:
    deps = tuple(_DeptPlan(f"Поликлиническое отделение № {i + 1}", "adult", "polyclinic") for i in range(units))
    return _MoPlan(
        info, "polyclinic", f'ГБУЗ СК "Городская поликлиника № {n}" {info.genitive}', f"ГП № {n}", True, deps
    )


def _children_polyclinic(info: _DistrictInfo, n: int, units: int) -> _MoPlan:
    deps = tuple(_DeptPlan(f"Педиатрическое отделение № {i + 1}", "children", "children") for i in range(units))
    name = f'ГБУЗ СК "Детская городская поликлиника № {n}" {info.genitive}'
    return _MoPlan(info, "children_polyclinic", name, f"ДГП № {n}", True, deps)


def _consultative_hospital(info: _DistrictInfo, n: int, units: int) -> _MoPlan:
    deps = (
        _DeptPlan("Консультативная поликлиника", "adult", "consultative"),
        *(
            _DeptPlan(f"Консультативно-диагностическое отделение № {i + 1}", "adult", "consultative")
            for i in range(units - 1)
        ),
    )
    if info.key == "stavropol" and n == 1:
        name, short = 'ГБУЗ СК "Ставропольская краевая клиническая больница"', "СККБ"
    else:
        name, short = f'ГБУЗ СК "Городская клиническая больница № {n}" {info.genitive}', f"ГКБ № {n}"
    return _MoPlan(info, "hospital", name, short, False, deps)


def _town_hospital(info: _DistrictInfo, ambulatories: int) -> _MoPlan:
    deps = (
        _DeptPlan("Поликлиника", "adult", "polyclinic"),
        _DeptPlan("Детская поликлиника", "children", "children"),
        *(_DeptPlan(f"Врачебная амбулатория № {i + 1}", "mixed", "ambulatory") for i in range(ambulatories)),
    )
    return _MoPlan(info, "hospital", f'ГБУЗ СК "Городская больница" {info.genitive}', f"ГБ {info.genitive}", True, deps)


def _district_hospital_name(info: _DistrictInfo) -> str:
    return f'ГБУЗ СК "{info.hospital_adjective} районная больница"'


def _district_hospital(info: _DistrictInfo, ambulatory_places: list[tuple[str, str]]) -> _MoPlan:
    deps = (
        _DeptPlan("Поликлиника", "adult", "rural_adult"),
        _DeptPlan("Детская поликлиника", "children", "rural_children"),
        *(
            _DeptPlan(f"Врачебная амбулатория {kind} {name}", "mixed", "ambulatory", f"{kind} {name}")
            for kind, name in ambulatory_places
        ),
    )
    short = f"{info.hospital_adjective} РБ"
    return _MoPlan(info, "hospital", _district_hospital_name(info), short, True, deps)


def _feldsher_post(info: _DistrictInfo, village: tuple[str, str]) -> _MoPlan:
    place = f"{village[0]} {village[1]}"
    dep = _DeptPlan(f"Фельдшерско-акушерский пункт {place}", "mixed", "feldsher_post", place)
    name = f"Фельдшерско-акушерский пункт {place} ({_district_hospital_name(info)})"
    return _MoPlan(info, "feldsher_post", name, f"ФАП {place}", False, (dep,))


def _allocate(rng: random.Random, total: int, bins: int, low: int, high: int) -> list[int]:
    """Split ``total`` into ``bins`` random parts, each starting in [low, high], summing exactly."""
    parts = [rng.randint(low, high) for _ in range(bins)]
    while sum(parts) != total:
        i = rng.randrange(bins)
        if sum(parts) < total:
            parts[i] += 1
        elif parts[i] > 1:
            parts[i] -= 1
    return parts


# City MOs at FULL scale: (adult polyclinics, children's polyclinics, consultative hospitals).
_FULL_CITY_MOS: dict[str, tuple[int, int, int]] = {
    "stavropol": (6, 3, 3),
    "pyatigorsk": (3, 1, 2),
    "kislovodsk": (2, 1, 1),
    "essentuki": (2, 1, 1),
    "nevinnomyssk": (3, 1, 1),
}
_FULL_TOWN_HOSPITAL_AMBULATORIES = {"zheleznovodsk": 1, "lermontov": 0}
_UNITS_PER_CITY_MO = 2


def _full_plan(ctx: _Context) -> tuple[list[_DistrictInfo], list[_MoPlan]]:
    rng = ctx.rng
    districts = list(_CITIES + _RURAL)
    plans: list[_MoPlan] = []
    for info in _CITIES:
        if info.key in _FULL_CITY_MOS:
            adult, children, hospitals = _FULL_CITY_MOS[info.key]
            plans += [_polyclinic(info, n + 1, _UNITS_PER_CITY_MO) for n in range(adult)]
            plans += [_children_polyclinic(info, n + 1, _UNITS_PER_CITY_MO) for n in range(children)]
            plans += [_consultative_hospital(info, n + 1, _UNITS_PER_CITY_MO) for n in range(hospitals)]
        else:
            plans.append(_town_hospital(info, _FULL_TOWN_HOSPITAL_AMBULATORIES[info.key]))
    city_units = sum(len(p.departments) for p in plans)
    # Whatever the cities leave of the non-post units goes to district hospitals: 2 each + ambulatories.
    ambulatories = FULL_SITES - FULL_FELDSHER_POSTS - city_units - 2 * len(_RURAL)
    amb_counts = _allocate(rng, ambulatories, len(_RURAL), 1, 3)
    post_counts = _allocate(rng, FULL_FELDSHER_POSTS, len(_RURAL), 8, 16)
    for info, n_amb, n_posts in zip(_RURAL, amb_counts, post_counts, strict=True):
        villages = rng.sample(_VILLAGES, n_amb + n_posts)
        plans.append(_district_hospital(info, villages[:n_amb]))
        plans += [_feldsher_post(info, v) for v in villages[n_amb:]]
    return districts, plans


def _small_plan(ctx: _Context) -> tuple[list[_DistrictInfo], list[_MoPlan]]:
    by_key = {d.key: d for d in _CITIES + _RURAL}
    stavropol, pyatigorsk, shpakovsky = by_key["stavropol"], by_key["pyatigorsk"], by_key["shpakovsky"]
    village = ctx.rng.choice(_VILLAGES[:6])  # villages of the Шпаковский округ
    plans = [
        _polyclinic(stavropol, 1, 2),
        _children_polyclinic(stavropol, 2, 1),
        _consultative_hospital(stavropol, 1, 1),
        _polyclinic(pyatigorsk, 1, 1),
        _district_hospital(shpakovsky, []),
        _feldsher_post(shpakovsky, village),
    ]
    return [stavropol, pyatigorsk, shpakovsky], plans


# -- pharmacies and ambulance -----------------------------------------------------------------
def _pharmacies(ctx: _Context, districts: list[_DistrictInfo], counts: list[int]) -> list[Pharmacy]:
    rng = ctx.rng
    result: list[Pharmacy] = []
    state_number = 0
    for info, count in zip(districts, counts, strict=True):
        for i in range(count):
            # the first pharmacy of a district dispenses ЛЛО drugs, the last of several is commercial
            preferential = i == 0 or (i < count - 1 and rng.random() < 0.3)
            if preferential:
                state_number += rng.randint(1, 4)
                name = f'Аптека № {state_number} ГУП СК "Ставропольфармация"'
            else:
                name = f'Аптека "{rng.choice(_COMMERCIAL_PHARMACIES)}"'
            lat, lon = ctx.point(info.lat, info.lon, 0.03)
            result.append(
                Pharmacy(ctx.next_id("pharmacy", 5001), name, ctx.address(info), info.key, lat, lon, preferential)
            )
    return result


def _ambulance(ctx: _Context, districts: list[_DistrictInfo], crews: list[int]) -> list[AmbulanceStation]:
    result: list[AmbulanceStation] = []
    for n, (info, count) in enumerate(zip(districts, crews, strict=True), start=1):
        if info.is_city:
            name = f'ГБУЗ СК "Станция скорой медицинской помощи" {info.genitive}'
        else:
            name = f"Отделение скорой медицинской помощи {_district_hospital_name(info)}"
        lat, lon = ctx.point(info.lat, info.lon, 0.02)
        brigades = tuple(str(n * 100 + k) for k in range(1, count + 1))
        result.append(
            AmbulanceStation(ctx.next_id("ambulance", 9001), name, info.key, ctx.address(info), lat, lon, brigades)
        )
    return result


# -- people -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _PersonPlan:
    district: str
    sex: str
    born: tuple[date, date]
    parent: int | None = None  # index of the parent in the plan
    father: int | None = None  # index of the father (surname and patronymic), if not the parent
    name: tuple[str, str, str] | None = None
    rights: tuple[str, ...] = ()  # codes of _DRUG_RIGHTS
    same_home_as: int | None = None
    village: bool = False


def _y(a: int, b: int | None = None) -> tuple[date, date]:
    return date(a, 1, 1), date(b or a, 12, 31)


# The demo cast; indices are referred to by ``parent`` / ``father`` / ``same_home_as``.
_CAST: tuple[_PersonPlan, ...] = (
    # 0: the memorable demo user
    _PersonPlan("stavropol", "M", (date(1985, 3, 14), date(1985, 3, 14)), name=("Иванов", "Иван", "Иванович")),
    _PersonPlan("stavropol", "F", _y(1987), same_home_as=0),  # 1: his wife
    _PersonPlan("stavropol", "M", _y(2017), parent=0, same_home_as=0),  # 2: son
    _PersonPlan("stavropol", "F", _y(2021), parent=1, father=0, same_home_as=0),  # 3: daughter
    _PersonPlan("stavropol", "F", _y(1978)),  # 4: a mother of a teenager
    _PersonPlan("stavropol", "M", (date(2009, 3, 1), date(2009, 9, 30)), parent=4, same_home_as=4),  # 5: aged 16
    _PersonPlan("shpakovsky", "F", _y(1950, 1954), rights=("082",)),  # 6: pensioner, disability group II
    _PersonPlan("pyatigorsk", "M", _y(1966, 1970), rights=("083", "R01")),  # 7: group III, diabetic
    _PersonPlan("pyatigorsk", "F", _y(1995, 1998)),  # 8
    _PersonPlan("shpakovsky", "M", _y(1989, 1992), village=True),  # 9: lives in a village
    _PersonPlan("shpakovsky", "F", _y(2016), parent=9, same_home_as=9),  # 10
    _PersonPlan("stavropol", "M", _y(2000, 2003)),  # 11: young adult
)


def suitable_for(mo: MedicalOrganisation, child: bool) -> bool:
    """An attaching MO can take the person: a department for their age with a first-level doctor."""
    if not mo.attaches:
        return False
    kinds = ("children", "mixed") if child else ("adult", "mixed")
    return any(
        dep.kind in kinds
        and any(d.department_id == dep.id and d.specialty_code in FIRST_LEVEL[dep.kind] for d in mo.doctors)
        for dep in mo.departments
    )


def _attach(
    ctx: _Context,
    candidates: list[MedicalOrganisation],
    *,
    district: str,
    child: bool,
    lat: float,
    lon: float,
) -> str:
    local = [mo for mo in candidates if mo.district_id == district]
    if child:  # a children's polyclinic first, where the district has one
        local = [mo for mo in local if mo.kind == "children_polyclinic"] or local
    if local:
        return ctx.rng.choice(local).id
    nearest = min(candidates, key=lambda mo: (mo.latitude - lat) ** 2 + (mo.longitude - lon) ** 2)
    return nearest.id


def _drug_right(ctx: _Context, code: str) -> DrugRight:
    category, name = _DRUG_RIGHTS[code]
    until = date(REFERENCE_DATE.year + ctx.rng.randint(0, 2), 12, 31)
    return DrugRight(category, code, name, until)


def _passport_year(born: date, age: int) -> int:
    """The year the current passport was issued: at 14, replaced at 20 and 45 (RF passports: 1997 on)."""
    return max(born.year + (45 if age >= 45 else 20 if age >= 20 else 14), 1998)


def _age(born: date) -> int:
    return REFERENCE_DATE.year - born.year - ((REFERENCE_DATE.month, REFERENCE_DATE.day) < (born.month, born.day))


def _make_people(
    ctx: _Context,
    cast: list[_PersonPlan],
    districts: dict[str, _DistrictInfo],
    orgs: list[MedicalOrganisation],
) -> list[Person]:
    rng = ctx.rng
    posts = {mo.district_id: mo for mo in orgs if mo.kind == "feldsher_post"}
    for_adults = [mo for mo in orgs if suitable_for(mo, child=False)]
    for_children = [mo for mo in orgs if suitable_for(mo, child=True)]
    people: list[Person] = []
    for plan in cast:
        info = districts[plan.district]
        born = plan.born[0] if plan.born[0] == plan.born[1] else ctx.date_between(*plan.born)
        age = _age(born)
        parent = people[plan.parent] if plan.parent is not None else None
        father_idx = plan.father if plan.father is not None else plan.parent
        father = people[father_idx] if father_idx is not None and people[father_idx].sex == "M" else None
        if plan.name:
            last, first, middle = plan.name
        else:
            last, first, middle = ctx.name(plan.sex)
            if father is not None:
                last = _surname(father.last_name, plan.sex)
                middle = _MALE_NAMES[father.first_name][0 if plan.sex == "M" else 1]
            elif parent is not None:  # take the mother's surname, a random patronymic
                base = parent.last_name[:-1] if parent.last_name.endswith(("ова", "ева", "ёва", "ина")) else None
                last = _surname(base, plan.sex) if base else parent.last_name
            if plan.same_home_as is not None and plan.parent is None:  # a spouse takes the surname
                last = _surname(people[plan.same_home_as].last_name, plan.sex)
        if plan.same_home_as is not None:
            home = people[plan.same_home_as]
            address, lat, lon = home.address, home.latitude, home.longitude
        else:
            post = posts.get(info.key) if plan.village else None
            if post is not None:
                place = post.short_name.removeprefix("ФАП ")
                address = ctx.address(info, place)
                lat, lon = ctx.point(post.latitude, post.longitude, 0.005)
            else:
                address = ctx.address(info, flat=info.is_city)
                lat, lon = ctx.point(info.lat, info.lon, 0.03)
        child = age < 18
        email = ""
        if age >= 14:
            email = f"{_translit(last)}.{_translit(first)[0]}{born.year % 100:02d}@{rng.choice(_MAIL_DOMAINS)}"
        rights = tuple(_drug_right(ctx, code) for code in plan.rights)
        people.append(
            Person(
                esia_oid=ctx.esia_oid(),
                last_name=last,
                first_name=first,
                middle_name=middle,
                birth_date=born,
                sex=plan.sex,
                snils=ctx.snils(),
                oms_policy=ctx.oms_policy(),
                smo_name=rng.choice(_SMOS),
                phone=ctx.mobile() if age >= 14 else (parent.phone if parent else ctx.mobile()),
                email=email,
                address=address,
                district_id=info.key,
                latitude=lat,
                longitude=lon,
                attached_mo_id=_attach(
                    ctx,
                    for_children if child else for_adults,
                    district=info.key,
                    child=child,
                    lat=lat,
                    lon=lon,
                ),
                parent_oid=parent.esia_oid if parent else None,
                birth_certificate=(
                    f"{rng.choice(('I', 'II', 'III', 'IV'))}-{rng.choice(('ДН', 'ГН', 'ЕН'))} "
                    f"{rng.randint(100000, 999999)}"
                    if age < 14
                    else None
                ),
                passport=f"07{_passport_year(born, age) % 100:02d} {rng.randint(100000, 999999)}"
                if age >= 14
                else None,
                drug_rights=rights,
            )
        )
    return people


def _extra_cast(ctx: _Context, districts: list[_DistrictInfo], count: int, start: int) -> list[_PersonPlan]:
    """Random households for FULL scale: an adult, sometimes a child of theirs."""
    rng = ctx.rng
    extra: list[_PersonPlan] = []
    while len(extra) < count:
        district = rng.choice(districts).key
        sex = rng.choice(("M", "F"))
        rights: tuple[str, ...] = ()
        if rng.random() < 0.15:
            rights = (rng.choice(("082", "083", "R01")),)
        extra.append(_PersonPlan(district, sex, _y(1945, 2006), rights=rights))
        parent_idx = start + len(extra) - 1
        if len(extra) < count and rng.random() < 0.35:
            extra.append(
                _PersonPlan(
                    district,
                    rng.choice(("M", "F")),
                    _y(2016, 2022),
                    parent=parent_idx,
                    same_home_as=parent_idx,
                )
            )
    return extra


# -- entry points -----------------------------------------------------------------------------
def generate_region(seed: int = 26, scale: RegionScale = RegionScale.SMALL) -> Region:
    """Build the synthetic region for (seed, scale); equal inputs give equal regions."""
    ctx = _Context(seed)
    full = scale is RegionScale.FULL
    infos, plans = _full_plan(ctx) if full else _small_plan(ctx)
    orgs = [_build_organisation(ctx, plan) for plan in plans]

    if full:
        pharmacy_counts = [ctx.rng.randint(6, 12) if d.is_city else ctx.rng.randint(2, 4) for d in infos]
        crews = [ctx.rng.randint(6, 14) if d.is_city else ctx.rng.randint(2, 4) for d in infos]
    else:
        pharmacy_counts = [3, 1, 1]
        crews = [8, 5, 0]
    pharmacies = _pharmacies(ctx, infos, pharmacy_counts)
    stations = _ambulance(ctx, [d for d, c in zip(infos, crews, strict=True) if c], [c for c in crews if c])

    cast = list(_CAST)
    if full:
        cast += _extra_cast(ctx, infos, FULL_PEOPLE - len(cast), len(cast))
    by_key = {d.key: d for d in infos}
    people = _make_people(ctx, cast, by_key, orgs)

    # The rooms come last, so adding them changed nothing generated before them.
    orgs = [_with_prevention_rooms(ctx, mo) for mo in orgs]

    all_keys = [d.key for d in _CITIES + _RURAL]
    districts = tuple(District(d.key, d.name, _okato(d, all_keys.index(d.key) - len(_CITIES))) for d in infos)
    return Region(
        code=REGION_CODE,
        name=REGION_NAME,
        timezone=TIMEZONE,
        seed=seed,
        scale=scale,
        specialties=SPECIALTIES,
        districts=districts,
        organisations=tuple(orgs),
        pharmacies=tuple(pharmacies),
        ambulance_stations=tuple(stations),
        people=tuple(people),
    )


def _with_prevention_rooms(ctx: _Context, mo: MedicalOrganisation) -> MedicalOrganisation:
    """An adult polyclinic with its prevention and diagnostic rooms in its first department, open 08:00-14:00
    on weekdays for two weeks (each room staffed by one nurse, whose SNILS the room carries)."""
    if mo.kind != "polyclinic" or not mo.departments:
        return mo
    rooms = tuple(
        Doctor(
            id=ctx.next_id("doctor", 10001),
            snils=ctx.snils(),
            last_name=last,
            first_name=first,
            middle_name=middle,
            specialty_code=code,
            department_id=mo.departments[0].id,
            room=room,
            hours=tuple(WorkingHours(d, time(8), time(14)) for d in range(5)),
            weeks_ahead=2,
        )
        for code, (last, first, middle), room in PREVENTION_ROOMS
    )
    return replace(mo, doctors=mo.doctors + rooms)


@lru_cache(maxsize=4)
def get_region(seed: int = 26, scale: RegionScale = RegionScale.SMALL) -> Region:
    """The region for (seed, scale), generated once per process."""
    return generate_region(seed, scale)
