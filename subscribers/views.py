# Web views: being written.
from django.http import HttpResponse


def registration_list(request):
    return HttpResponse("todo")


registration_new = registration_detail = registration_receipt = registration_list


def registration_photo(request, pk, kind):
    return HttpResponse("todo")
