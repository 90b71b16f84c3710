"""Sentences in the style of commune and district plans, with exactly what the voice must say."""

CORPUS: list[tuple[str, str]] = [
    # Abbreviations
    (
        "UBND xã thông báo lịch tiếp công dân.",
        "Ủy ban nhân dân xã thông báo lịch tiếp công dân.",
    ),
    (
        "HĐND huyện khai mạc kỳ họp thường lệ.",
        "Hội đồng nhân dân huyện khai mạc kỳ họp thường lệ.",
    ),
    (
        "Bà con cần chuẩn bị hồ sơ TTHC đầy đủ trước khi đến nộp.",
        "Bà con cần chuẩn bị hồ sơ thủ tục hành chính đầy đủ trước khi đến nộp.",
    ),
    (
        "Đẩy mạnh CCHC gắn với chuyển đổi số.",
        "Đẩy mạnh cải cách hành chính gắn với chuyển đổi số.",
    ),
    (
        "Mọi CBCCVC phải đeo thẻ khi làm việc.",
        "Mọi cán bộ, công chức, viên chức phải đeo thẻ khi làm việc.",
    ),
    (
        "Ủy ban MTTQ xã phối hợp giám sát việc giải quyết hồ sơ.",
        "Ủy ban Mặt trận Tổ quốc xã phối hợp giám sát việc giải quyết hồ sơ.",
    ),
    (
        "Sở TT&TT hướng dẫn các đài truyền thanh cơ sở.",
        "Sở thông tin và truyền thông hướng dẫn các đài truyền thanh cơ sở.",
    ),
    (
        "Phòng VH-TT huyện biên tập tin bài hằng tuần.",
        "Phòng văn hóa - thông tin huyện biên tập tin bài hằng tuần.",
    ),
    (
        "Đài PT-TH tỉnh tiếp sóng chương trình thời sự.",
        "Đài phát thanh - truyền hình tỉnh tiếp sóng chương trình thời sự.",
    ),
    (
        "Người dân nộp hồ sơ qua DVCTT sẽ không phải đến trụ sở.",
        "Người dân nộp hồ sơ qua dịch vụ công trực tuyến sẽ không phải đến trụ sở.",
    ),
    (
        "Trung tâm DVC huyện mở cửa cả sáng thứ Bảy.",
        "Trung tâm dịch vụ công huyện mở cửa cả sáng thứ Bảy.",
    ),
    (
        "BCĐ chuyển đổi số xã họp định kỳ.",
        "Ban Chỉ đạo chuyển đổi số xã họp định kỳ.",
    ),
    (
        "Tình hình KT-XH của xã tiếp tục ổn định.",
        "Tình hình kinh tế - xã hội của xã tiếp tục ổn định.",
    ),
    (
        "Ứng dụng CNTT trong quản lý HTX nông nghiệp.",
        "Ứng dụng công nghệ thông tin trong quản lý hợp tác xã nông nghiệp.",
    ),
    (
        "Học sinh THCS và THPT tham gia cuộc thi tìm hiểu pháp luật.",
        "Học sinh trung học cơ sở và trung học phổ thông tham gia cuộc thi tìm hiểu pháp luật.",
    ),
    (
        "Kết quả PCI của tỉnh tăng ba bậc.",
        "Kết quả chỉ số năng lực cạnh tranh cấp tỉnh của tỉnh tăng ba bậc.",
    ),
    (
        "Chỉ số PAPI phản ánh trải nghiệm của người dân.",
        "Chỉ số hiệu quả quản trị và hành chính công cấp tỉnh phản ánh trải nghiệm của người dân.",
    ),
    (
        "Khảo sát SIPAS được thực hiện vào cuối năm.",
        "Khảo sát chỉ số hài lòng của người dân đối với sự phục vụ của cơ quan hành chính nhà"
        " nước được thực hiện vào cuối năm.",
    ),
    (
        "Tỉnh xếp thứ 12 về PAR INDEX.",
        "Tỉnh xếp thứ mười hai về chỉ số cải cách hành chính.",
    ),
    (
        "Các văn bản QĐ-UBND được đăng trên cổng thông tin.",
        "Các văn bản quyết định của Ủy ban nhân dân được đăng trên cổng thông tin.",
    ),
    (
        "Mang theo CCCD khi đến làm thủ tục.",
        "Mang theo căn cước công dân khi đến làm thủ tục.",
    ),
    (
        "Đoàn công tác của TP.HCM đến thăm xã.",
        "Đoàn công tác của thành phố Hồ Chí Minh đến thăm xã.",
    ),
    (
        "Đ/c Chủ tịch UBND xã chủ trì buổi làm việc.",
        "đồng chí Chủ tịch Ủy ban nhân dân xã chủ trì buổi làm việc.",
    ),
    (
        "Phòng Kinh tế & Hạ tầng thẩm định hồ sơ.",
        "Phòng Kinh tế và Hạ tầng thẩm định hồ sơ.",
    ),
    # An expansion already written out beside its abbreviation is said once
    (
        "Cải cách hành chính (CCHC) là nhiệm vụ trọng tâm.",
        "Cải cách hành chính là nhiệm vụ trọng tâm.",
    ),
    (
        "Chỉ số năng lực cạnh tranh cấp tỉnh (PCI) năm nay được công bố sớm.",
        "Chỉ số năng lực cạnh tranh cấp tỉnh năm nay được công bố sớm.",
    ),
    (
        "Thủ tục hành chính (sau đây gọi tắt là TTHC) được công khai tại bộ phận một cửa.",
        "Thủ tục hành chính được công khai tại bộ phận một cửa.",
    ),
    (
        "Công bố Chỉ số PCI năm 2025.",
        "Công bố Chỉ số năng lực cạnh tranh cấp tỉnh năm hai nghìn không trăm hai mươi lăm.",
    ),
    # Tokens that are not in the lexicon are left alone
    (
        "Mã hồ sơ UBNDX không phải là từ viết tắt.",
        "Mã hồ sơ UBNDX không phải là từ viết tắt.",
    ),
    (
        "Đài VOV phát bản tin lúc sáng sớm.",
        "Đài VOV phát bản tin lúc sáng sớm.",
    ),
    # Citations: the number is read, then the issuer its code names, unless the sentence does
    (
        "Thực hiện Quyết định số 1250/QĐ-UBND ngày 15/6/2023 của UBND tỉnh.",
        "Thực hiện Quyết định số một nghìn hai trăm năm mươi ngày mười lăm tháng sáu năm hai"
        " nghìn không trăm hai mươi ba của Ủy ban nhân dân tỉnh.",
    ),
    (
        "Căn cứ Kế hoạch số 58/KH-UBND ngày 03/02/2024 của UBND huyện.",
        "Căn cứ Kế hoạch số năm mươi tám ngày ba tháng hai năm hai nghìn không trăm hai mươi tư"
        " của Ủy ban nhân dân huyện.",
    ),
    (
        "Theo Nghị định số 45/2020/NĐ-CP của Chính phủ về thủ tục trên môi trường điện tử.",
        "Theo Nghị định số bốn mươi lăm năm hai nghìn không trăm hai mươi của Chính phủ về thủ"
        " tục trên môi trường điện tử.",
    ),
    (
        "Thông tư số 39/2020/TT-BTTTT quy định về đài truyền thanh cấp xã.",
        "Thông tư số ba mươi chín năm hai nghìn không trăm hai mươi của Bộ Thông tin và Truyền"
        " thông quy định về đài truyền thanh cấp xã.",
    ),
    (
        "Nghị quyết số 76/NQ-CP đặt mục tiêu đến năm 2030.",
        "Nghị quyết số bảy mươi sáu của Chính phủ đặt mục tiêu đến năm hai nghìn không trăm ba"
        " mươi.",
    ),
    (
        "Chỉ thị số 01/CT-TTg về phát động phong trào toàn dân.",
        "Chỉ thị số không một của Thủ tướng Chính phủ về phát động phong trào toàn dân.",
    ),
    (
        "Công văn số 123/UBND-VP ngày 5/3/2025 đề nghị các thôn báo cáo.",
        "Công văn số một trăm hai mươi ba ngày năm tháng ba năm hai nghìn không trăm hai mươi lăm"
        " của Ủy ban nhân dân đề nghị các thôn báo cáo.",
    ),
    (
        "Quyết định 942/QĐ-TTg phê duyệt chiến lược phát triển chính phủ số.",
        "Quyết định chín trăm bốn mươi hai của Thủ tướng Chính phủ phê duyệt chiến lược phát"
        " triển chính phủ số.",
    ),
    (
        "Kế hoạch số: 87/KH-UBND của UBND xã",
        "Kế hoạch số tám mươi bảy của Ủy ban nhân dân xã",
    ),
    (
        "Quán triệt Nghị quyết số 27-NQ/TW của Ban Chấp hành Trung ương.",
        "Quán triệt Nghị quyết số hai mươi bảy của Ban Chấp hành Trung ương.",
    ),
    (
        "Luật số 80/2015/QH13 về ban hành văn bản quy phạm pháp luật.",
        "Luật số tám mươi năm hai nghìn không trăm mười lăm của Quốc hội về ban hành văn bản quy"
        " phạm pháp luật.",
    ),
    (
        "Theo Nghị quyết 09/NQ-\nCP ngày 12/01/2024",
        "Theo Nghị quyết không chín ngày mười hai tháng một năm hai nghìn không trăm hai mươi tư"
        " của Chính phủ",
    ),
    # Dates: exactly one "ngày"
    (
        "Hạn nộp hồ sơ là ngày 30/9/2025.",
        "Hạn nộp hồ sơ là ngày ba mươi tháng chín năm hai nghìn không trăm hai mươi lăm.",
    ),
    (
        "Hội nghị diễn ra 14/11/2025 tại hội trường xã.",
        "Hội nghị diễn ra ngày mười bốn tháng mười một năm hai nghìn không trăm hai mươi lăm tại"
        " hội trường xã.",
    ),
    (
        "Lễ ra mắt được tổ chức ngày 04 tháng 4 năm 2025.",
        "Lễ ra mắt được tổ chức ngày bốn tháng tư năm hai nghìn không trăm hai mươi lăm.",
    ),
    (
        "Kế hoạch ban hành ngày 21 tháng 01 năm 2026.",
        "Kế hoạch ban hành ngày hai mươi mốt tháng một năm hai nghìn không trăm hai mươi sáu.",
    ),
    (
        "Khai giảng lớp tập huấn ngày 01.10.2025.",
        "Khai giảng lớp tập huấn ngày một tháng mười năm hai nghìn không trăm hai mươi lăm.",
    ),
    (
        "Ngày 2/9 là ngày Quốc khánh.",
        "Ngày hai tháng chín là ngày Quốc khánh.",
    ),
    (
        "Báo cáo sơ kết 6 tháng đầu năm gửi trước 15/6.",
        "Báo cáo sơ kết sáu tháng đầu năm gửi trước ngày mười lăm tháng sáu.",
    ),
    (
        "Số liệu được tổng hợp đến tháng 12/2025.",
        "Số liệu được tổng hợp đến tháng mười hai năm hai nghìn không trăm hai mươi lăm.",
    ),
    (
        "Hoàn thành trước 12/2026.",
        "Hoàn thành trước tháng mười hai năm hai nghìn không trăm hai mươi sáu.",
    ),
    (
        "Chiến dịch kéo dài đến hết tháng 4.",
        "Chiến dịch kéo dài đến hết tháng tư.",
    ),
    (
        "Kết quả quý I/2025 cao hơn cùng kỳ.",
        "Kết quả quý một năm hai nghìn không trăm hai mươi lăm cao hơn cùng kỳ.",
    ),
    (
        "Trong quý 4/2025 sẽ hoàn thành việc lắp loa.",
        "Trong quý bốn năm hai nghìn không trăm hai mươi lăm sẽ hoàn thành việc lắp loa.",
    ),
    (
        "Báo cáo định kỳ quý I, II, III, IV gửi Phòng Nội vụ.",
        "Báo cáo định kỳ quý một, hai, ba, bốn gửi Phòng Nội vụ.",
    ),
    (
        "Số hồ sơ tồn đọng giảm trong năm 2025.",
        "Số hồ sơ tồn đọng giảm trong năm hai nghìn không trăm hai mươi lăm.",
    ),
    (
        "Năm 2005 xã được công nhận đạt chuẩn.",
        "Năm hai nghìn không trăm linh năm xã được công nhận đạt chuẩn.",
    ),
    (
        "Chương trình tổng thể giai đoạn 2021 - 2030.",
        "Chương trình tổng thể giai đoạn hai nghìn không trăm hai mươi mốt đến hai nghìn không"
        " trăm ba mươi.",
    ),
    (
        "Chiến lược giai đoạn 2026-2030 đã được phê duyệt.",
        "Chiến lược giai đoạn hai nghìn không trăm hai mươi sáu đến hai nghìn không trăm ba mươi"
        " đã được phê duyệt.",
    ),
    # Numbers
    (
        "Xã có 15 thôn và 21 cụm loa.",
        "Xã có mười lăm thôn và hai mươi mốt cụm loa.",
    ),
    (
        "Đã tiếp nhận 105 hồ sơ, trả đúng hạn 104 hồ sơ.",
        "Đã tiếp nhận một trăm linh năm hồ sơ, trả đúng hạn một trăm linh bốn hồ sơ.",
    ),
    (
        "Có 24 xã với 10.000 lượt người truy cập.",
        "Có hai mươi tư xã với mười nghìn lượt người truy cập.",
    ),
    (
        "Toàn huyện có 1.500 hộ dùng dịch vụ công.",
        "Toàn huyện có một nghìn năm trăm hộ dùng dịch vụ công.",
    ),
    (
        "Đã tiếp nhận 1.005 hồ sơ.",
        "Đã tiếp nhận một nghìn không trăm linh năm hồ sơ.",
    ),
    (
        "Kinh phí hỗ trợ là 12.500.000 đồng.",
        "Kinh phí hỗ trợ là mười hai triệu năm trăm nghìn đồng.",
    ),
    (
        "Tổng vốn đầu tư 2.000.500.000 đồng.",
        "Tổng vốn đầu tư hai tỷ năm trăm nghìn đồng.",
    ),
    (
        "Tỷ lệ hồ sơ trực tuyến đạt 95,5%.",
        "Tỷ lệ hồ sơ trực tuyến đạt chín mươi lăm phẩy năm phần trăm.",
    ),
    (
        "100% thôn có loa truyền thanh.",
        "một trăm phần trăm thôn có loa truyền thanh.",
    ),
    (
        "Giảm 0,5% so với năm trước.",
        "Giảm không phẩy năm phần trăm so với năm trước.",
    ),
    (
        "Sản lượng tăng 2,5 lần so với năm trước.",
        "Sản lượng tăng hai phẩy năm lần so với năm trước.",
    ),
    (
        "Tăng từ 10-15% so với cùng kỳ.",
        "Tăng từ mười đến mười lăm phần trăm so với cùng kỳ.",
    ),
    (
        "Dịch vụ công trực tuyến mức độ 3, 4 đã được cung cấp.",
        "Dịch vụ công trực tuyến mức độ ba, bốn đã được cung cấp.",
    ),
    (
        "Nộp hồ sơ trực tuyến mức độ 3,4 ngay tại nhà.",
        "Nộp hồ sơ trực tuyến mức độ ba, bốn ngay tại nhà.",
    ),
    (
        "Đây là lần thứ 4 xã đạt danh hiệu.",
        "Đây là lần thứ tư xã đạt danh hiệu.",
    ),
    (
        "Tổ dân phố xếp thứ 1 toàn phường.",
        "Tổ dân phố xếp thứ nhất toàn phường.",
    ),
    (
        "Họp giao ban vào thứ 2 hằng tuần.",
        "Họp giao ban vào thứ hai hằng tuần.",
    ),
    (
        "Đại hội Đảng bộ khóa XIV thành công tốt đẹp.",
        "Đại hội Đảng bộ khóa mười bốn thành công tốt đẹp.",
    ),
    (
        "Hội nghị lần thứ VI Ban Chấp hành.",
        "Hội nghị lần thứ sáu Ban Chấp hành.",
    ),
    (
        "Mỗi chuyên mục dài 10-15 phút.",
        "Mỗi chuyên mục dài mười đến mười lăm phút.",
    ),
    (
        "Phát một tuần một lần, mỗi lần từ 10 đến 15 phút.",
        "Phát một tuần một lần, mỗi lần từ mười đến mười lăm phút.",
    ),
    (
        "Định kỳ 3 tháng/lần báo cáo Ủy ban.",
        "Định kỳ ba tháng một lần báo cáo Ủy ban.",
    ),
    (
        "Phát sóng 2 lần/ngày vào buổi sáng và buổi chiều.",
        "Phát sóng hai lần một ngày vào buổi sáng và buổi chiều.",
    ),
    (
        "Khoảng 2/3 số hộ đã cài ứng dụng.",
        "Khoảng hai phần ba số hộ đã cài ứng dụng.",
    ),
    (
        "12/15 thôn đã hoàn thành.",
        "mười hai trên mười lăm thôn đã hoàn thành.",
    ),
    (
        "Đường dây nóng hoạt động 24/7.",
        "Đường dây nóng hoạt động hai mươi tư trên bảy.",
    ),
    (
        "Tuyến đường dài 3,2 km đi qua 5 thôn.",
        "Tuyến đường dài ba phẩy hai ki lô mét đi qua năm thôn.",
    ),
    (
        "Gieo cấy 120 ha lúa xuân.",
        "Gieo cấy một trăm hai mươi héc ta lúa xuân.",
    ),
    (
        "Xem mục 2.3 của kế hoạch.",
        "Xem mục hai chấm ba của kế hoạch.",
    ),
    # Times
    (
        "Tiếp công dân từ 7h30 đến 17h hằng ngày.",
        "Tiếp công dân từ bảy giờ ba mươi phút đến mười bảy giờ hằng ngày.",
    ),
    (
        "Bản tin phát lúc 07:30 và 17:00.",
        "Bản tin phát lúc bảy giờ ba mươi phút và mười bảy giờ.",
    ),
    (
        "Họp lúc 14 giờ 30 tại hội trường.",
        "Họp lúc mười bốn giờ ba mươi phút tại hội trường.",
    ),
    (
        "Làm việc 7h-11h30 các ngày trong tuần.",
        "Làm việc bảy giờ đến mười một giờ ba mươi phút các ngày trong tuần.",
    ),
    (
        "Lúc 6g15 loa phát bản tin sáng.",
        "Lúc sáu giờ mười lăm phút loa phát bản tin sáng.",
    ),
    # Phone numbers
    (
        "Mọi phản ánh xin gọi 0213.3852.468.",
        "Mọi phản ánh xin gọi không hai một ba, ba tám năm hai, bốn sáu tám.",
    ),
    (
        "Đường dây nóng: 0912 345 678.",
        "Đường dây nóng: không chín một hai, ba bốn năm, sáu bảy tám.",
    ),
    (
        "Tổng đài 1900 8198 hỗ trợ người dân.",
        "Tổng đài một chín không không, tám một chín tám hỗ trợ người dân.",
    ),
    (
        "Liên hệ 0987654321 để được hướng dẫn.",
        "Liên hệ không chín tám bảy, sáu năm bốn, ba hai một để được hướng dẫn.",
    ),
    (
        "Khi có cháy, gọi 114.",
        "Khi có cháy, gọi một một bốn.",
    ),
    # Web and e-mail addresses
    (
        "Nộp hồ sơ tại dichvucong.gov.vn.",
        "Nộp hồ sơ tại dịch vụ công chấm gờ o vê chấm vê en.",
    ),
    (
        "Xem chi tiết tại https://www.chinhphu.vn/thong-tin-chinh-sach",
        "Xem chi tiết tại vê kép vê kép vê kép chấm chính phủ chấm vê en",
    ),
    (
        "Góp ý gửi về hopthu@sonla.gov.vn.",
        "Góp ý gửi về hopthu a còng sonla chấm gờ o vê chấm vê en.",
    ),
    # Layout, markdown and punctuation
    (
        "II. NỘI DUNG TUYÊN TRUYỀN",
        "nội dung tuyên truyền",
    ),
    (
        "**1. Mục đích**",
        "Mục đích",
    ),
    (
        "### **2. Thời gian phát sóng**",
        "Thời gian phát sóng",
    ),
    (
        "- Thời gian thực hiện: Hằng tháng.",
        "Thời gian thực hiện: Hằng tháng.",
    ),
    (
        "+ Chuyên mục phát vào sáng thứ Hai.",
        "Chuyên mục phát vào sáng thứ Hai.",
    ),
    (
        "* Đối tượng: toàn thể nhân dân trong xã.",
        "Đối tượng: toàn thể nhân dân trong xã.",
    ),
    (
        "a) Tuyên truyền trên loa truyền thanh các thôn.",
        "Tuyên truyền trên loa truyền thanh các thôn.",
    ),
    (
        "2.1. Tuyên truyền trong nội bộ cơ quan",
        "Tuyên truyền trong nội bộ cơ quan",
    ),
    (
        "Chuyên mục “*Xã hội học tập*” phát vào tối thứ Sáu.",
        "Chuyên mục “Xã hội học tập” phát vào tối thứ Sáu.",
    ),
    (
        "Các lĩnh vực: đất đai, hộ tịch, công chứng...",
        "Các lĩnh vực: đất đai, hộ tịch, công chứng.",
    ),
    (
        "Chú trọng đất đai, xây dựng… và các lĩnh vực khác.",
        "Chú trọng đất đai, xây dựng, và các lĩnh vực khác.",
    ),
    (
        "Giấy tờ gồm sổ hộ khẩu, giấy khai sinh, v.v...",
        "Giấy tờ gồm sổ hộ khẩu, giấy khai sinh, vân vân.",
    ),
    (
        "100% Cổng/Trang thông tin điện tử cập nhật tin bài.",
        "một trăm phần trăm cổng, trang thông tin điện tử cập nhật tin bài.",
    ),
    (
        "Cán bộ văn hóa/xã hội phụ trách chuyên mục.",
        "Cán bộ văn hóa, xã hội phụ trách chuyên mục.",
    ),
    (
        "Tuyên truyền bằng tiếng dân tộc (Thái, Mông) qua loa.",
        "Tuyên truyền bằng tiếng dân tộc (Thái, Mông) qua loa.",
    ),
    (
        "Trên đây là kế hoạch của UBND xã./.",
        "Trên đây là kế hoạch của Ủy ban nhân dân xã.",
    ),
    (
        "TM. ỦY BAN NHÂN DÂN",
        "thay mặt ủy ban nhân dân",
    ),
    (
        "KẾ HOẠCH\n\nTuyên truyền CCHC năm 2026",
        "kế hoạch\nTuyên truyền cải cách hành chính năm hai nghìn không trăm hai mươi sáu",
    ),
]
